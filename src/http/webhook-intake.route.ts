import { toProblemResponse } from '@app/common/errors/problem-details.filter';
import { PROBLEM_CONTENT_TYPE } from '@app/common/errors/problem-details';
import { recordWebhookIntake } from '@app/common/metrics/metrics';
import { webhookIntakeOutcome } from '@app/common/metrics/webhook-intake.middleware';
import { Logger } from '@nestjs/common';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { PinoLogger } from 'nestjs-pino';
import { storage } from 'nestjs-pino/storage';
import type { Logger as PinoInstance } from 'pino';
import { requestIdOf } from '../logging';
import type { WebhookIntakeService } from '../modules/webhooks/webhook-intake.service';
import { WITHHELD_RESPONSE_BODY, findSecretKind } from './secret-leak.guard';

/**
 * The canonical spelling of the webhook URL: lower-case path, no trailing
 * slash, a token of characters that need no percent-decoding, any query.
 * Every other spelling (which Express also routes to the webhook controller,
 * because its routing ignores case and a trailing slash) goes to Express.
 */
const CANONICAL_WEBHOOK_URL = /^\/webhooks\/stripe\/([A-Za-z0-9_-]+)(?:\?.*)?$/;

/** The 200 body, a constant. */
const RECEIVED_BODY = '{"received":true}';

/** Parts of the Express app that the route reuses, so its responses match. */
export interface WebhookIntakeRouteOptions {
  intake: WebhookIntakeService;
  /** The largest body accepted, in bytes; a larger one gets 413 as body-parser sends it. */
  bodyLimitBytes: number;
  /** Express's own ETag function (`app.get('etag fn')`), so the ETag matches what Express sends. */
  etag: (body: string, encoding: BufferEncoding) => string;
  /** The helmet middleware Express runs, applied once to record the headers it sets. */
  helmet: (request: IncomingMessage, response: ServerResponse, next: (error?: unknown) => void) => void;
}

/**
 * Serve POST /webhooks/stripe/:endpointToken on the HTTP server's request
 * event, before Express, and hand every other request to Express unchanged.
 *
 * Through Express each delivery paid for request logging, the request
 * context, cookie parsing, helmet, the response buffer of the secret check,
 * routing, the guard, the interceptors and the pipes, which held the intake
 * benchmark at about 0.2× the ceiling server. This handler does what is left: it reads the body with the same
 * limit, calls the intake service, and sends the same status, headers and
 * problem details, the same intake metrics, and the same log lines with the
 * request id. The e2e suite test/webhooks/webhook-intake-route.e2e-spec.ts
 * compares it with the Express route response by response.
 */
export function installWebhookIntakeRoute(server: Server, options: WebhookIntakeRouteOptions): void {
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length !== 1) {
    throw new Error(`Expected the HTTP server to have one request listener (the Express app), found ${listeners.length}`);
  }

  const [express] = listeners;
  const route = new WebhookIntakeRoute(options);
  server.removeListener('request', express);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!route.handle(request, response)) {
      express(request, response);
    }
  });
}

class WebhookIntakeRoute {
  private readonly logger = new Logger('ProblemDetailsFilter');
  private readonly leakLogger = new Logger('SecretLeakGuard');
  /** Helmet's headers, as a flat [name, value, …] list that writeHead takes without copying. */
  private readonly securityHeaders: string[];
  private readonly receivedHeaders: string[];

  constructor(private readonly options: WebhookIntakeRouteOptions) {
    this.securityHeaders = recordHelmetHeaders(options.helmet);
    this.receivedHeaders = [
      ...this.securityHeaders,
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(RECEIVED_BODY)),
      'ETag',
      options.etag(RECEIVED_BODY, 'utf8'),
    ];
  }

  /** Serve the request when it is a delivery to the canonical webhook URL; returns false to leave it to Express. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST' || request.headers['content-encoding'] !== undefined) {
      // body-parser inflates gzip, deflate and br bodies; those few stay with Express.
      return false;
    }

    const match = CANONICAL_WEBHOOK_URL.exec(request.url ?? '');
    if (!match) {
      return false;
    }

    this.receive(new Delivery(request, response), match[1]);

    return true;
  }

  private receive(delivery: Delivery, endpointToken: string): void {
    const { request } = delivery;
    const limit = this.options.bodyLimitBytes;
    const declaredLength = request.headers['content-length'];
    let tooLarge = declaredLength !== undefined && Number(declaredLength) > limit;
    const chunks: Buffer[] = [];
    let received = 0;

    request.on('data', (chunk: Buffer) => {
      if (tooLarge) {
        return;
      }

      received += chunk.length;
      if (received > limit) {
        tooLarge = true;
        chunks.length = 0;

        return;
      }
      chunks.push(chunk);
    });

    // Like body-parser, send 413 only once the whole body has been read and dropped.
    request.on('end', () => {
      if (tooLarge) {
        this.sendPayloadTooLarge(delivery);

        return;
      }

      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
      // Node joins repeated headers other than Set-Cookie into one string, as the controller receives them.
      const signature = request.headers['stripe-signature'] as string | undefined;
      // Entered here, not around the listeners: they run in the socket's async context.
      storage.run(delivery.logStore, () => {
        this.options.intake.receive(endpointToken, body, signature).then(
          (result) => this.sendReceived(delivery, result === 'duplicate'),
          (error: unknown) => this.sendProblem(delivery, error),
        );
      });
    });
  }

  // The 200 body is the constant above, so it cannot carry a secret and skips the secret check.
  private sendReceived(delivery: Delivery, duplicate: boolean): void {
    delivery.duplicate = duplicate;
    delivery.response.writeHead(200, this.receivedHeaders);
    delivery.response.end(RECEIVED_BODY);
  }

  /**
   * 413 as body-parser's error reaches the filter: before helmet and before
   * pino-http run, so without helmet's headers and without an access line.
   */
  private sendPayloadTooLarge(delivery: Delivery): void {
    delivery.accessLogged = false;
    const error = Object.assign(new Error('request entity too large'), { type: 'entity.too.large', limit: this.options.bodyLimitBytes });
    this.sendProblem(delivery, error, []);
  }

  /**
   * Send an error as ProblemDetailsFilter does. The bodies are problem details
   * built from the intake's own messages, yet they pass the same secret check
   * as every Express response, so this route cannot be the one that leaks.
   */
  private sendProblem(delivery: Delivery, error: unknown, securityHeaders = this.securityHeaders): void {
    const { response } = delivery;
    if (response.headersSent || response.destroyed) {
      return;
    }

    const problem = toProblemResponse(error, this.logger);
    let status = problem.body.status;
    let body = JSON.stringify(problem.body);
    const headers = [...securityHeaders];
    for (const [name, value] of Object.entries(problem.headers)) {
      headers.push(name, value);
    }

    const leaked = findSecretKind(Buffer.from(body));
    if (leaked === null) {
      headers.push('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, 'ETag', this.options.etag(body, 'utf8'));
    } else {
      this.leakLogger.error({ method: 'POST', path: delivery.path, status, secretKind: leaked }, 'Response withheld: it contained a secret');
      status = 500;
      body = WITHHELD_RESPONSE_BODY;
      headers.push('Content-Type', PROBLEM_CONTENT_TYPE);
    }
    headers.push('Content-Length', String(Buffer.byteLength(body)));
    response.writeHead(status, headers);
    response.end(body);
  }
}

/**
 * One delivery: its request id, its log store for nestjs-pino, and the metric
 * and the access log line recorded when the response finishes.
 */
class Delivery {
  readonly logStore: RequestLogStore;
  readonly path: string;
  duplicate = false;
  accessLogged = true;
  private readonly startedAt = process.hrtime.bigint();
  private readonly startedAtMs = Date.now();
  private finished = false;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
  ) {
    // pino-http's request serializer reads the id from here.
    (request as IncomingMessage & { id?: string }).id = requestIdOf(request);
    this.logStore = new RequestLogStore(request);
    this.path = (request.url ?? '').split('?')[0];
    const onFinished = (): void => this.recordFinish();
    response.once('finish', onFinished);
    response.once('close', onFinished);
  }

  /**
   * Record the intake metric (a finished response only, as the middleware
   * does) and pino-http's access line: "request completed", or "request
   * errored" with the error pino-http makes for a 5xx, at info level.
   */
  private recordFinish(): void {
    if (this.finished) {
      return;
    }
    this.finished = true;

    const { response } = this;
    if (response.writableFinished) {
      const outcome = webhookIntakeOutcome(response.statusCode, this.duplicate);
      if (outcome !== undefined) {
        recordWebhookIntake(outcome, Number(process.hrtime.bigint() - this.startedAt) / 1e9);
      }
    }

    if (!this.accessLogged || !PinoLogger.root.isLevelEnabled('info')) {
      return;
    }

    const responseTime = Date.now() - this.startedAtMs;
    if (response.statusCode >= 500) {
      this.logStore.logger.info({ res: response, err: new Error(`failed with status code ${response.statusCode}`), responseTime }, 'request errored');
    } else {
      this.logStore.logger.info({ res: response, responseTime }, 'request completed');
    }
  }
}

/**
 * nestjs-pino's per-request store, whose logger is the root logger's child
 * bound to the request, as pino-http makes it. The child is made on the first
 * log line, so a delivery that writes none (every accepted one when LOG_LEVEL
 * is warn, as in the benchmarks) does not serialize its request.
 */
class RequestLogStore {
  private child: PinoInstance | undefined;
  readonly responseLogger = undefined;

  constructor(private readonly request: IncomingMessage) {}

  get logger(): PinoInstance {
    this.child ??= PinoLogger.root.child({ req: this.request });

    return this.child;
  }

  // PinoLogger.assign replaces the store's logger with a child of it.
  set logger(logger: PinoInstance) {
    this.child = logger;
  }
}

/** Run helmet once against a stand-in response and return the headers it sets. */
function recordHelmetHeaders(helmet: WebhookIntakeRouteOptions['helmet']): string[] {
  const headers: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers.push(name, String(value));
    },
    removeHeader: () => undefined,
  };
  let failure: unknown;
  helmet({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure !== undefined) {
    throw new Error('helmet failed while its headers were recorded for the webhook route', { cause: failure });
  }

  return headers;
}
