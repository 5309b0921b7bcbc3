import { redactSecrets } from '@app/common/keys/stripe-keys';

/** The value a redacted field or secret is replaced with in log lines. */
export const REDACTED = '[redacted]';

/** Field names whose value is a secret whatever it looks like, matched at any of the first three levels of a log object. */
const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'stripe-signature',
  'secretKey',
  'secret',
  'signingSecret',
  'webhookSecret',
  'password',
  'newPassword',
  'token',
  'apiKey',
  'sessionId',
  // Public, but the service has never logged it and nothing needs it there.
  'publishableKey',
];

/**
 * pino `redact` paths. pino matches whole paths only, so every field name is
 * listed at the top level and one and two levels down, which covers request
 * headers (`req.headers.cookie`) and bodies (`req.body.password`).
 */
export const LOG_REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((field) => {
  const identifier = /^[A-Za-z_$][\w$]*$/.test(field);
  const child = identifier ? `.${field}` : `["${field}"]`;

  return [identifier ? field : `["${field}"]`, `*${child}`, `*.*${child}`];
});

/**
 * Secrets recognisable by their form, wherever they stand in a line: Stripe
 * secret and restricted keys and webhook signing secrets (by their prefixes),
 * API tokens (`bst_`), bearer credentials and the session cookie.
 */
const TEXT_PATTERNS: readonly [RegExp, string][] = [
  [/\bbst_[A-Za-z0-9_-]{16,}/g, `bst_${REDACTED}`],
  [/\b(Bearer)(\s+|%20|\+)[^\s",;\\]+/gi, `$1 ${REDACTED}`],
  [/\b(billing_session)(=|%3D)[^\s",;\\]+/gi, `$1=${REDACTED}`],
];

/** Replaces every secret recognisable by its form in a text, such as a log line, message or stack trace. */
export function redactLogText(text: string): string {
  let result = redactSecrets(text);
  for (const [pattern, replacement] of TEXT_PATTERNS) {
    result = result.replace(pattern, replacement);
  }

  return result;
}

/** Anything pino can write its lines to. */
export interface LogDestination {
  write(line: string): unknown;
  flush?(callback?: (error?: Error) => void): void;
  flushSync?(): void;
}

/**
 * Wraps the stream pino writes to, so that every finished line is redacted by
 * pattern: messages, serialized errors with their stacks and any nested value,
 * after pino's own field redaction and serializers ran.
 */
export function redactingDestination(target: LogDestination): LogDestination {
  return {
    write(line: string): unknown {
      return target.write(redactLogText(line));
    },
    // pino flushes an asynchronous destination through these on logger.flush() and at exit.
    flush: target.flush ? (callback) => target.flush?.(callback) : undefined,
    flushSync: target.flushSync ? () => target.flushSync?.() : undefined,
  };
}
