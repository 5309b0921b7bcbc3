import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlRoutes } from './control-routes';
import { unrecognizedUrl } from './errors';
import { FaultQueue } from './faults';
import { sendJson } from './http-io';
import { silentLogger, type EmulatorLogger } from './logger';
import { serveAuthenticationPage, serveReceipt, submitAuthentication } from './pages';
import { serveHostedInvoice, serveInvoicePdf, submitHostedInvoicePayment } from './invoice-pages';
import { ApiRouter, type ApiRequestRecord } from './router';
import { EmulatorState } from './state';

export interface StripeEmulatorOptions {
  /** TCP port. 0, the default, picks a free one. */
  port?: number;
  /** Interface to listen on, 127.0.0.1 by default. */
  host?: string;
  /**
   * Waits between webhook delivery attempts in milliseconds. A delivery fails for good after
   * `deliveryRetryDelaysMs.length + 1` attempts. Stripe itself retries for up to three days.
   */
  deliveryRetryDelaysMs?: number[];
  /** Time a webhook delivery waits for the endpoint's response, 10 000 ms by default. */
  deliveryTimeoutMs?: number;
  /**
   * Time before a refund takes its later status, 500 ms by default: a Dashboard refund with outcome
   * `failed` fails, and refunds of the refund test cards succeed or fail.
   */
  refundFailureDelayMs?: number;
  /** Time a `timeout` fault keeps a request open before dropping it, 60 000 ms by default. */
  faultTimeoutMs?: number;
  /**
   * Time a created or changed invoice takes to show in `GET /v1/invoices/search`, 1 000 ms by
   * default. Stripe's own search index lags by up to a minute, or longer during incidents.
   */
  searchIndexDelayMs?: number;
  /** Receiver of start, stop, retry and error messages. Nothing is logged by default. */
  logger?: EmulatorLogger;
}

const DEFAULT_RETRY_DELAYS_MS = [500, 2000, 5000, 15000, 60000];

/**
 * A local stand-in for the part of Stripe's REST API the billing service uses, with Stripe's
 * wire format, test cards, signed webhook deliveries and a control API under `/_emulator/`.
 * State lives in memory. An instance starts once and cannot be restarted after `stop()`.
 */
export class StripeEmulator {
  private readonly state: EmulatorState;
  private readonly router: ApiRouter;
  private readonly control: ControlRoutes;
  private readonly logger: EmulatorLogger;
  private server: http.Server | undefined;
  private baseUrl: string | undefined;
  private stopped = false;

  constructor(private readonly options: StripeEmulatorOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.state = new EmulatorState(
      {
        deliveryRetryDelaysMs: options.deliveryRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
        deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
        refundFailureDelayMs: options.refundFailureDelayMs ?? 500,
        searchIndexDelayMs: options.searchIndexDelayMs ?? 1_000,
      },
      this.logger,
    );
    const faults = new FaultQueue();
    this.router = new ApiRouter(this.state, { faults, faultTimeoutMs: options.faultTimeoutMs ?? 60_000 });
    this.control = new ControlRoutes(this.state, faults);
  }

  /** The base URL, e.g. `http://127.0.0.1:12111`. Throws before `start()` has resolved. */
  get url(): string {
    if (this.baseUrl === undefined) {
      throw new Error('The Stripe emulator is not running; call start() first.');
    }
    return this.baseUrl;
  }

  /** Returns the `/v1` requests received so far (the last 10 000), oldest first, only those of `accountId` when given. */
  apiRequests(filter: { accountId?: string } = {}): ApiRequestRecord[] {
    return this.router.requests.filter((record) => filter.accountId === undefined || record.accountId === filter.accountId);
  }

  /** Returns the signing secret of every webhook endpoint created so far, for tests that check none of them leaks. */
  webhookSigningSecrets(): string[] {
    return [...this.state.webhookSecrets.values()];
  }

  async start(): Promise<{ url: string; port: number }> {
    if (this.server || this.stopped) {
      throw new Error('The Stripe emulator was already started; create a new instance instead.');
    }
    const host = this.options.host ?? '127.0.0.1';
    const server = http.createServer((request, response) => {
      void this.route(request, response);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.state.baseUrl = this.baseUrl;
    this.logger.info(`Stripe emulator listening on ${this.baseUrl}`);
    return { url: this.baseUrl, port };
  }

  /** Stops listening, drops open connections (including held ones) and cancels pending deliveries. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.state.stop();
    const server = this.server;
    if (!server) {
      return;
    }
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    this.logger.info(`Stripe emulator on ${this.baseUrl} stopped`);
  }

  private async route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://emulator.invalid');
    const [, section, id, extra] = url.pathname.split('/');
    try {
      if (section === 'v1') {
        await this.router.handle(request, response, url);
      } else if (section === '_emulator') {
        await this.control.handle(request, response, url);
      } else if (section === 'receipts' && id && extra === undefined && method === 'GET') {
        serveReceipt(this.state, response, id);
      } else if (section === 'authenticate' && id && extra === undefined && method === 'GET') {
        serveAuthenticationPage(this.state, response, id);
      } else if (section === 'authenticate' && id && extra === undefined && method === 'POST') {
        await submitAuthentication(this.state, request, response, id);
      } else if (section === 'invoices' && id && extra === undefined && method === 'GET') {
        serveHostedInvoice(this.state, response, id);
      } else if (section === 'invoices' && id && extra === undefined && method === 'POST') {
        await submitHostedInvoicePayment(this.state, request, response, id);
      } else if (section === 'invoices' && id && extra === 'pdf' && method === 'GET') {
        serveInvoicePdf(this.state, response, id);
      } else {
        request.resume();
        sendJson(response, 404, { error: unrecognizedUrl(method, url.pathname).body });
      }
    } catch (error) {
      this.logger.error(
        `Unexpected error serving ${method} ${url.pathname}: ${error instanceof Error ? error.stack : String(error)}`,
      );
      if (!response.headersSent) {
        sendJson(response, 500, {
          error: { type: 'api_error', message: 'The emulator failed to handle this request.' },
        });
      }
    }
  }
}
