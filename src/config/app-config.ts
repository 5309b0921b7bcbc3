import { parseEncryptionKeys } from '@app/common/crypto/secret-cipher';
import type { AppRoleName } from '@app/common/app-roles';

/** A rate limit: at most `limit` events per `windowSeconds`. */
export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** The validated configuration; built once at start-up from the environment. */
export interface AppConfig {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  /** Interface the HTTP server binds to. */
  host: string;
  /** Connection URL of the tables' owner, for the migrations, the partition job and the ops CLI. */
  databaseUrl: string;
  /**
   * The connection of the api and worker processes' queries, `databaseUrl`
   * unless SERVICE_DATABASE_URL is set. Naming a login role that is a member
   * of billing_app and owns nothing keeps SQL run on these connections from
   * switching to the owner, or any role but billing_app, with SET ROLE.
   */
  serviceDatabaseUrl: string;
  redisUrl: string;
  encryptionKeys: string;
  platformWebhookSecrets: string[];
  publicBaseUrl: string;
  stripeApiBase: URL | null;
  stripeEmulatorPort: number;
  role: AppRoleName;
  logLevel: string;
  /** Failed logins per account (tenant slug and email). */
  rateLimitLogin: RateLimit;
  /** Failed logins per client IP address, whatever the account. */
  rateLimitLoginIp: RateLimit;
  rateLimitApi: RateLimit;
  rateLimitWebhookFailures: RateLimit;
  /** Milliseconds before a call to Stripe is abandoned. */
  stripeTimeoutMs: number;
  /** BullMQ key prefix; braces make it a Redis Cluster hash tag. */
  queuePrefix: string;
  /** Days a finished inbox event or a published outbox event is kept before retention drops it. */
  partitionRetentionDays: number;
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * A fixed key used only when NODE_ENV=test and no key is set, so test processes
 * share encrypted rows. It protects nothing and is never accepted in production.
 */
const TEST_ENCRYPTION_KEY = 'test:' + Buffer.alloc(32, 7).toString('base64');

export const DEFAULT_PARTITION_RETENTION_DAYS = 90;
/**
 * Failed jobs stay in BullMQ for 14 days (FAILED_JOB_RETENTION_SECONDS), the
 * window in which on-call replays them; a retention below it would drop the
 * inbox rows those jobs point at.
 */
export const MIN_PARTITION_RETENTION_DAYS = 14;
const MAX_PARTITION_RETENTION_DAYS = 3650;

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  /**
   * Whether APP_ENCRYPTION_KEY must be set. Tools that never touch a stored
   * secret (migrations, most operator commands) run without it.
   */
  requireEncryptionKey?: boolean;
}

/**
 * Validate the environment and build the configuration. Every variable at fault
 * is collected before failing, so one start-up attempt names them all.
 */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): AppConfig {
  const requireEncryptionKey = options.requireEncryptionKey ?? true;
  const problems: string[] = [];
  const value = (name: string, fallback: string): string => {
    const raw = env[name];

    return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
  };

  const nodeEnv = value('NODE_ENV', 'development');
  if (!['development', 'production', 'test'].includes(nodeEnv)) {
    problems.push(`NODE_ENV must be development, production or test (got "${nodeEnv}")`);
  }

  const port = parsePort('PORT', value('PORT', '3000'), problems);
  const host = value('HOST', '0.0.0.0');
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) {
    problems.push(`HOST must be an interface address such as 0.0.0.0 or 127.0.0.1 (got "${host}")`);
  }
  const stripeEmulatorPort = parsePort('STRIPE_EMULATOR_PORT', value('STRIPE_EMULATOR_PORT', '12111'), problems);
  const databaseUrl = parseUrl('DATABASE_URL', value('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/billing'), ['postgres:', 'postgresql:'], problems);
  // Unset, it takes DATABASE_URL's value, which is checked (and named) once already.
  const serviceDatabaseUrl =
    value('SERVICE_DATABASE_URL', '') === '' ? databaseUrl : parseUrl('SERVICE_DATABASE_URL', value('SERVICE_DATABASE_URL', ''), ['postgres:', 'postgresql:'], problems);
  const redisUrl = parseUrl('REDIS_URL', value('REDIS_URL', 'redis://127.0.0.1:6379'), ['redis:', 'rediss:'], problems);
  const publicBaseUrl = parseUrl('PUBLIC_BASE_URL', value('PUBLIC_BASE_URL', 'http://localhost:3000'), ['http:', 'https:'], problems).replace(/\/+$/, '');

  const stripeApiBaseRaw = value('STRIPE_API_BASE', '');
  const problemsBeforeStripeApiBase = problems.length;
  parseUrl('STRIPE_API_BASE', stripeApiBaseRaw || 'http://unset', ['http:', 'https:'], problems);
  // An invalid value is already a problem on the list, so start-up stops with the one message naming it.
  const stripeApiBase = stripeApiBaseRaw && problems.length === problemsBeforeStripeApiBase ? new URL(stripeApiBaseRaw) : null;

  let encryptionKeys = value('APP_ENCRYPTION_KEY', '');
  if (!encryptionKeys) {
    if (nodeEnv === 'test') {
      encryptionKeys = TEST_ENCRYPTION_KEY;
    } else if (requireEncryptionKey) {
      problems.push('APP_ENCRYPTION_KEY is required: a base64 32-byte key (generate one with `openssl rand -base64 32`), or id:base64,id:base64,…');
    }
  } else {
    try {
      parseEncryptionKeys(encryptionKeys);
    } catch (error) {
      problems.push(`APP_ENCRYPTION_KEY is invalid: ${(error as Error).message}`);
    }
  }

  const platformWebhookSecrets = value('STRIPE_WEBHOOK_SECRET', '')
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);
  if (platformWebhookSecrets.some((secret) => !/^whsec_[A-Za-z0-9+/=]{8,}$/.test(secret))) {
    problems.push('STRIPE_WEBHOOK_SECRET must be a comma-separated list of whsec_… signing secrets');
  }

  const role = value('APP_ROLE', 'all');
  if (!['api', 'worker', 'all'].includes(role)) {
    problems.push(`APP_ROLE must be api, worker or all (got "${role}")`);
  }

  const stripeTimeoutMs = Number(value('STRIPE_TIMEOUT_MS', '20000'));
  if (!Number.isInteger(stripeTimeoutMs) || stripeTimeoutMs < 100 || stripeTimeoutMs > 120_000) {
    problems.push('STRIPE_TIMEOUT_MS must be an integer from 100 to 120000 (milliseconds)');
  }

  const queuePrefix = value('QUEUE_PREFIX', '{billing}');
  if (!/^\{[A-Za-z0-9_-]{1,64}\}$/.test(queuePrefix)) {
    problems.push('QUEUE_PREFIX must be a Redis hash tag such as {billing}');
  }

  const partitionRetentionDays = parsePartitionRetention(value('PARTITION_RETENTION_DAYS', String(DEFAULT_PARTITION_RETENTION_DAYS)), problems);

  const config: AppConfig = {
    nodeEnv: nodeEnv as AppConfig['nodeEnv'],
    port,
    host,
    databaseUrl,
    serviceDatabaseUrl,
    redisUrl,
    encryptionKeys,
    platformWebhookSecrets,
    publicBaseUrl,
    stripeApiBase,
    stripeEmulatorPort,
    role: role as AppRoleName,
    logLevel: parseLogLevel(value('LOG_LEVEL', nodeEnv === 'test' ? 'warn' : 'info'), problems),
    rateLimitLogin: parseRateLimit('RATE_LIMIT_LOGIN', value('RATE_LIMIT_LOGIN', '10/15m'), problems),
    rateLimitLoginIp: parseRateLimit('RATE_LIMIT_LOGIN_IP', value('RATE_LIMIT_LOGIN_IP', '100/15m'), problems),
    rateLimitApi: parseRateLimit('RATE_LIMIT_API', value('RATE_LIMIT_API', '600/1m'), problems),
    rateLimitWebhookFailures: parseRateLimit('RATE_LIMIT_WEBHOOK_FAILURES', value('RATE_LIMIT_WEBHOOK_FAILURES', '60/1m'), problems),
    stripeTimeoutMs,
    queuePrefix,
    partitionRetentionDays,
  };

  if (problems.length > 0) {
    throw new ConfigurationError(problems);
  }

  return config;
}

/**
 * Start of every rate-limit key in Redis: the queue prefix without its braces,
 * because the throttler storage wraps each key in a hash tag of its own.
 */
export function rateLimitKeyPrefix(config: AppConfig): string {
  return `${config.queuePrefix.slice(1, -1)}:rate-limit`;
}

function parsePort(name: string, raw: string, problems: string[]): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`${name} must be a port number from 0 to 65535 (got "${raw}")`);
  }

  return port;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseLogLevel(raw: string, problems: string[]): string {
  if (!LOG_LEVELS.includes(raw)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${raw}")`);
  }

  return raw;
}

/** Check that `raw` is a URL with one of `protocols`. The message leaves the value out, since database and Redis URLs may carry a password. */
function parseUrl(name: string, raw: string, protocols: string[], problems: string[]): string {
  const expected = `${name} must be a URL starting with ${protocols.map((protocol) => `${protocol}//`).join(' or ')}`;
  let protocol: string | null = null;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    problems.push(expected);

    return raw;
  }
  if (!protocols.includes(protocol)) {
    problems.push(`${expected} (got a ${protocol} URL)`);
  }

  return raw;
}

function parsePartitionRetention(raw: string, problems: string[]): number {
  const days = Number(raw);
  if (!/^\d+$/.test(raw) || days > MAX_PARTITION_RETENTION_DAYS) {
    problems.push(`PARTITION_RETENTION_DAYS must be a whole number of days from ${MIN_PARTITION_RETENTION_DAYS} to ${MAX_PARTITION_RETENTION_DAYS} (got "${raw}")`);

    return DEFAULT_PARTITION_RETENTION_DAYS;
  }
  if (days < MIN_PARTITION_RETENTION_DAYS) {
    problems.push(
      `PARTITION_RETENTION_DAYS is ${days}, below the ${MIN_PARTITION_RETENTION_DAYS}-day replay window: events must outlive the failed jobs on-call replays. Set it to ${MIN_PARTITION_RETENTION_DAYS} or more (default ${DEFAULT_PARTITION_RETENTION_DAYS}).`,
    );

    return DEFAULT_PARTITION_RETENTION_DAYS;
  }

  return days;
}

/** `10/15m` is ten per fifteen minutes; a bare number is per minute. */
function parseRateLimit(name: string, raw: string, problems: string[]): RateLimit {
  const match = /^(\d+)(?:\/(\d*)([smh]))?$/.exec(raw);
  if (!match || Number(match[1]) < 1) {
    problems.push(`${name} must be N or N/<duration> such as 10/15m, 600/1m or 60/30s (got "${raw}")`);

    return { limit: 1, windowSeconds: 60 };
  }

  const count = match[2] ? Number(match[2]) : 1;
  const unit = match[3] ?? 'm';

  return { limit: Number(match[1]), windowSeconds: count * DURATION_UNITS[unit] };
}
