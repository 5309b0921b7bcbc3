import type Stripe from 'stripe';
import { AccountRegistry, type AccountRecord, type ApiKeyRecord } from './accounts';
import { buildEvent, eventTypeEnabled, type EmulatorEvent, type EventRequest } from './events';
import type { StoredInvoiceItem } from './invoice-items';
import { SearchIndex } from './invoice-search';
import type { EmulatorLogger } from './logger';
import { ObjectStore, type Scope } from './object-store';
import type { TestCard } from './test-cards';
import { TimerSet } from './timers';
import { WebhookDispatcher } from './webhook-delivery';

export interface EmulatorSettings {
  deliveryRetryDelaysMs: readonly number[];
  deliveryTimeoutMs: number;
  /** How long a Dashboard refund with outcome `failed` stays pending before it fails. */
  refundFailureDelayMs: number;
  /** How long a created or changed invoice takes to show in search results, like Stripe's search index. */
  searchIndexDelayMs: number;
}

/** The emulator's in-memory state, plus event emission to webhook endpoints. */
export class EmulatorState {
  readonly accounts: AccountRegistry;
  readonly paymentIntents = new ObjectStore<Stripe.PaymentIntent>('payment_intent');
  readonly charges = new ObjectStore<Stripe.Charge>('charge');
  readonly refunds = new ObjectStore<Stripe.Refund>('refund');
  readonly paymentMethods = new ObjectStore<Stripe.PaymentMethod>('PaymentMethod');
  /** The test card behind each PaymentMethod, by PaymentMethod id. */
  readonly testCards = new Map<string, TestCard>();
  readonly webhookEndpoints = new ObjectStore<Stripe.WebhookEndpoint>('webhook endpoint');
  /** Signing secrets by endpoint id. Stripe shows a secret only in the create response. */
  readonly webhookSecrets = new Map<string, string>();
  readonly events = new ObjectStore<EmulatorEvent>('event');
  readonly customers = new ObjectStore<Stripe.Customer>('customer');
  readonly taxIds = new ObjectStore<Stripe.TaxId>('tax_id');
  readonly invoiceItems = new ObjectStore<StoredInvoiceItem>('invoiceitem');
  readonly invoices = new ObjectStore<Stripe.Invoice>('invoice');
  /** What invoice search sees: each invoice as it was `searchIndexDelayMs` after its last change. */
  readonly invoiceSearchIndex: SearchIndex<Stripe.Invoice>;
  readonly dispatcher: WebhookDispatcher;
  /** Timers of delayed state changes, such as a refund failing later. `stop()` cancels them. */
  readonly timers = new TimerSet();
  /** The emulator's own base URL (`http://host:port`), known once the server listens. */
  baseUrl = '';

  constructor(
    readonly settings: EmulatorSettings,
    readonly logger: EmulatorLogger,
  ) {
    this.accounts = new AccountRegistry(logger);
    this.invoiceSearchIndex = new SearchIndex(this.timers, settings.searchIndexDelayMs);
    this.dispatcher = new WebhookDispatcher({
      retryDelaysMs: settings.deliveryRetryDelaysMs,
      timeoutMs: settings.deliveryTimeoutMs,
      logger,
      findEvent: (id) => this.events.lookup(id)?.object,
      findEndpoint: (id) => {
        const endpoint = this.webhookEndpoints.lookup(id)?.object;
        const secret = this.webhookSecrets.get(id);
        if (!endpoint || secret === undefined) {
          return undefined;
        }
        return { url: endpoint.url, secret, apiVersion: endpoint.api_version, enabled: endpoint.status === 'enabled' };
      },
      onDelivered: (event) => {
        event.pending_webhooks = Math.max(0, event.pending_webhooks - 1);
      },
    });
  }

  /**
   * Records an event and queues its delivery to every enabled endpoint of the same account and
   * mode whose `enabled_events` select it. Delivery starts from a timer, after this returns.
   */
  emit(scope: Scope, type: string, object: object, request: EventRequest, previousAttributes?: object): EmulatorEvent {
    const event = buildEvent({ type, object, livemode: scope.livemode, request, previousAttributes });
    const endpoints = this.webhookEndpoints
      .list(scope, (endpoint) => endpoint.status === 'enabled' && eventTypeEnabled(endpoint.enabled_events, type))
      .reverse();
    event.pending_webhooks = endpoints.length;
    this.events.insert(scope, event);
    for (const endpoint of endpoints) {
      this.dispatcher.enqueue(scope.accountId, event, endpoint.id, endpoint.url);
    }
    return event;
  }

  /** Builds the context for an operation the control API or a page performs on an account's behalf. */
  contextFor(accountId: string, livemode: boolean, eventRequest: EventRequest): OperationContext | undefined {
    const account = this.accounts.getAccount(accountId);
    return account ? { state: this, scope: { accountId, livemode }, account, eventRequest } : undefined;
  }

  stop(): void {
    this.timers.cancelAll();
    this.dispatcher.stop();
  }
}

/** The account and mode an operation acts in, from an API request or from the control API. */
export interface OperationContext {
  state: EmulatorState;
  scope: Scope;
  account: AccountRecord;
  /** The `request` member of events the operation causes. */
  eventRequest: EventRequest;
}

/** The request data an API handler receives. */
export interface ApiContext extends OperationContext {
  key: ApiKeyRecord;
  requestId: string;
  idempotencyKey: string | null;
}
