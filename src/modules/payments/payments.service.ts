import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound, validationFailed } from '@app/common/errors/domain-error';
import { SqlParameters } from '@app/common/database/sql-parameters';
import { IdempotencyService, ResponseStore } from '@app/common/idempotency/idempotency.service';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { EntityManager, QueryFailedError } from 'typeorm';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { ListPaymentsQuery } from './dto/list-payments.query';
import { PaymentListResponse, PaymentResponse } from './dto/payment.response';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './payment-input';
import { toPaymentResponse } from './payment.mapper';
import { CardErrorLike, PaymentObservation, observeCardError, observeIntent } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { cardDeclined } from './payments.errors';
import { NewPayment, PaymentsRepository, UPDATED_PAYMENT } from './payments.repository';

/** The fields of stripe-node's StripeError that tell whether Stripe created anything. */
interface StripeErrorFields {
  type: string;
  statusCode?: number;
  code?: string;
  param?: string;
  message?: string;
  payment_intent?: Stripe.PaymentIntent;
}

/** A payment to send to Stripe: new, with the version of the row this request wrote, or one an earlier attempt created. */
type StartedPayment = { payment: PaymentEntity; rowVersion?: string; earlier?: undefined } | { earlier: PaymentEntity };

/** Stripe removes idempotency keys once they are 24 hours old, so a create is sent again only within 23 hours. */
const STRIPE_IDEMPOTENCY_WINDOW_MS = 23 * 60 * 60 * 1000;

/** Request fields Stripe may reject as parameters, by Stripe's parameter name. */
const CLIENT_FIELDS_BY_STRIPE_PARAM: Record<string, string> = {
  amount: 'amount',
  currency: 'currency',
  payment_method: 'paymentMethod',
  receipt_email: 'receiptEmail',
  description: 'description',
};

/** Takes card payments on the tenant's Stripe account and reads them back. */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly idempotency: IdempotencyService,
    private readonly payments: PaymentsRepository,
    private readonly settlement: PaymentSettlementService,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {}

  /**
   * Creates and confirms a card PaymentIntent. The payment row is written
   * before Stripe is called, so a webhook that beats Stripe's response finds it
   * through the intent's metadata, and the idempotency key derives from its id.
   * A request that takes over the Idempotency-Key of an earlier attempt with
   * the same body continues that attempt's payment instead of creating one.
   */
  async create(dto: CreatePaymentDto): Promise<PaymentResponse> {
    const tenantId = this.context.requireTenantId();
    const client = await this.stripeConnection.getClient(tenantId);
    const newPayment = {
      tenantId,
      amount: dto.amount,
      currency: dto.currency,
      description: dto.description ?? null,
      receiptEmail: dto.receiptEmail ?? null,
      livemode: client.mode === 'live',
      // The foreign key on (tenant_id, customer_id) rejects another tenant's customer or none.
      // NOTE: The PaymentIntent is not tied to the Stripe customer.
      customerId: dto.customerId ?? null,
      metadata: { ...(dto.metadata ?? {}) },
    };
    const started = await this.start(newPayment).catch((error: unknown) => {
      throw isForeignCustomer(error) ? validationFailed([{ field: 'customerId', message: 'is not a customer of this tenant' }]) : error;
    });
    if (started.earlier) {
      return this.resume(client, started.earlier, dto.paymentMethod);
    }

    return this.confirm(client, started.payment, dto.paymentMethod, started.rowVersion);
  }

  async get(id: string): Promise<PaymentResponse> {
    const payment = await this.payments.findById(this.context.requireTenantId(), id);
    if (!payment) {
      throw notFound('payment');
    }

    return toPaymentResponse(payment);
  }

  async list(query: ListPaymentsQuery): Promise<PaymentListResponse> {
    const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const page = await this.payments.list(this.context.requireTenantId(), {
      status: query.status,
      limit: query.limit ?? DEFAULT_PAGE_LIMIT,
      after,
    });

    return { data: page.data.map(toPaymentResponse), nextCursor: page.nextCursor };
  }

  /**
   * Writes the processing payment and, when the request sent a new
   * Idempotency-Key, claims the key with it, so one commit makes both
   * durable before Stripe is called. The common case, a new key or none,
   * takes one statement. A key that has a row goes through `claimWithin` in a
   * transaction, which takes over a released or abandoned key and finds the
   * payment an earlier attempt with it created.
   */
  private async start(newPayment: Omit<NewPayment, 'idempotencyKeyId'>): Promise<StartedPayment> {
    if (!this.idempotency.activeKey()) {
      const parameters = new SqlParameters();
      const claim = this.idempotency.newKeyClaim(parameters);
      const inserted = await this.payments.insertProcessingWithNewKey(newPayment, parameters, claim);
      if (inserted) {
        if (claim && inserted.claimed) {
          claim.activate(inserted.claimed);
        }

        return { payment: inserted.payment, rowVersion: inserted.rowVersion };
      }
    }

    return this.payments.transaction(async (manager) => {
      const activeKey = await this.idempotency.claimWithin(manager);
      const earlier = activeKey?.recovered ? await this.payments.findByIdempotencyKeyId(newPayment.tenantId, activeKey.id, manager) : null;
      if (earlier) {
        return { earlier };
      }

      const payment = await this.payments.insertProcessing({ ...newPayment, idempotencyKeyId: activeKey?.id ?? null }, manager);

      return { payment };
    });
  }

  /**
   * Sends the create-and-confirm request and applies Stripe's response. A card error becomes a 402 naming the failed payment.
   * `rowVersion` is known when this request wrote the payment, and lets the response be applied without a lock.
   */
  private async confirm(client: TenantStripeClient, payment: PaymentEntity, paymentMethod: string, rowVersion?: string): Promise<PaymentResponse> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.createPaymentIntent(client, payment, paymentMethod);
    } catch (error) {
      throw await this.handleStripeError(payment, error);
    }

    return this.applyAndRespond(payment, rowVersion, observeIntent(intent, null));
  }

  /**
   * Continues the payment an earlier attempt with the same Idempotency-Key
   * created. With its PaymentIntent known, the intent is read again and its
   * state returned (402 when it failed). Without it, Stripe's response was
   * lost, so the create is sent again with the same Stripe idempotency key.
   * Stripe then returns the intent it made, or makes it now, never a second one.
   */
  private async resume(client: TenantStripeClient, payment: PaymentEntity, paymentMethod: string): Promise<PaymentResponse> {
    const logContext = { tenantId: payment.tenantId, paymentId: payment.id, paymentIntentId: payment.stripePaymentIntentId };
    if (!payment.stripePaymentIntentId) {
      if (Date.now() - payment.createdAt.getTime() > STRIPE_IDEMPOTENCY_WINDOW_MS) {
        // Stripe may have forgotten the key, so sending the create again could charge twice.
        this.logger.warn(logContext, 'Retried payment request is too old to send to Stripe again; the stored payment is returned');

        return toPaymentResponse(payment);
      }
      this.logger.log(logContext, 'Retried payment request: the create is sent to Stripe again with the same idempotency key');

      return this.confirm(client, payment, paymentMethod);
    }

    let intent: Stripe.PaymentIntent;
    try {
      intent = await client.stripe.paymentIntents.retrieve(payment.stripePaymentIntentId, { expand: ['latest_charge'] });
    } catch (error) {
      throw await this.stripeConnection.translateStripeError(payment.tenantId, error);
    }

    this.logger.log(logContext, 'Retried payment request: the earlier payment is returned as Stripe has it now');
    const settled = await this.applyObservation(payment.id, observeIntent(intent, null, true));
    if (settled.status === 'failed') {
      throw cardDeclined(settled);
    }

    return toPaymentResponse(settled);
  }

  private async createPaymentIntent(client: TenantStripeClient, payment: PaymentEntity, paymentMethod: string): Promise<Stripe.PaymentIntent> {
    // Server-side confirmation without return_url: card only, so Stripe never
    // needs a redirect; 3D Secure comes back as requires_action for Stripe.js.
    // The SDK's pinned API version names the older `payment_method_types`
    // parameter `allowed_payment_method_types`.
    return client.stripe.paymentIntents.create(
      {
        amount: payment.amount,
        currency: payment.currency,
        payment_method: paymentMethod,
        allowed_payment_method_types: ['card'],
        confirm: true,
        description: payment.description ?? undefined,
        receipt_email: payment.receiptEmail ?? undefined,
        metadata: { ...payment.metadata, [PAYMENT_ID_METADATA_KEY]: payment.id, [TENANT_ID_METADATA_KEY]: payment.tenantId },
        expand: ['latest_charge'],
      },
      { idempotencyKey: `payment-${payment.id}-create` },
    );
  }

  /**
   * Turns a failed Stripe call into the error to respond with. A card error
   * fails the payment (402). A request that Stripe rejected (4xx without a
   * PaymentIntent) created nothing, so the payment row is deleted too. Anything
   * else (timeouts, 5xx) leaves the payment processing for a webhook to settle.
   */
  private async handleStripeError(payment: PaymentEntity, error: unknown): Promise<Error> {
    const logContext = { tenantId: payment.tenantId, paymentId: payment.id };
    if (!isStripeError(error)) {
      this.logger.error({ ...logContext, err: describe(error) }, 'Creating the PaymentIntent failed');

      return this.stripeConnection.translateStripeError(payment.tenantId, error);
    }

    const stripeError = error as unknown as StripeErrorFields;
    if (stripeError.type === 'StripeCardError') {
      const failed = await this.applyObservation(payment.id, observeCardError(error as CardErrorLike));
      this.logger.log({ ...logContext, failureCode: failed.failureCode, declineCode: failed.declineCode }, 'Card payment declined');

      return cardDeclined(failed);
    }

    const rejected = stripeError.statusCode !== undefined && stripeError.statusCode >= 400 && stripeError.statusCode < 500;
    if (rejected && !stripeError.payment_intent) {
      await this.payments.deleteUnsent(payment.tenantId, payment.id);
      this.logger.warn(
        { ...logContext, stripeErrorType: stripeError.type, stripeErrorCode: stripeError.code, statusCode: stripeError.statusCode },
        'Stripe rejected the PaymentIntent; the payment was discarded',
      );
      if (stripeError.param === 'payment_method') {
        return validationFailed([{ field: 'paymentMethod', message: 'is not a usable card PaymentMethod of the connected Stripe account' }]);
      }
      const field = stripeError.param ? CLIENT_FIELDS_BY_STRIPE_PARAM[stripeError.param] : undefined;
      if (field && stripeError.type === 'StripeInvalidRequestError') {
        // Stripe checks what the service cannot, such as the minimum charge of a currency it converts.
        return validationFailed([{ field, message: `was rejected by Stripe (${stripeError.code ?? 'invalid'}): ${stripeError.message ?? 'invalid value'}` }]);
      }

      return this.stripeConnection.translateStripeError(payment.tenantId, error);
    }

    this.logger.warn(
      { ...logContext, stripeErrorType: stripeError.type, statusCode: stripeError.statusCode },
      'Creating the PaymentIntent failed; the payment stays processing until Stripe reports its outcome',
    );

    return this.stripeConnection.translateStripeError(payment.tenantId, error);
  }

  /**
   * Applies Stripe's response to a create and stores the response under the request's
   * Idempotency-Key in the same transaction, so one commit records both. When
   * the row is still as this request wrote it (`rowVersion`), one statement
   * does both. Otherwise the row is locked and the response applied to it as
   * it is now.
   */
  private async applyAndRespond(payment: PaymentEntity, rowVersion: string | undefined, observation: PaymentObservation): Promise<PaymentResponse> {
    const unlocked = rowVersion === undefined ? null : await this.applyUnlockedAndStore(payment, rowVersion, observation);
    if (unlocked) {
      return unlocked;
    }

    const tenantId = this.context.requireTenantId();

    return this.payments.transaction(async (manager) => {
      const settled = await this.settleLocked(manager, tenantId, payment.id, observation);
      const response = toPaymentResponse(settled);
      await this.idempotency.storeResponseWithin(manager, response);

      return response;
    });
  }

  /** Applies the response and stores it under the key in one statement. Returns null, having written nothing, when the row changed. */
  private async applyUnlockedAndStore(payment: PaymentEntity, rowVersion: string, observation: PaymentObservation): Promise<PaymentResponse | null> {
    let store: ResponseStore | undefined;
    const unlocked = await this.settlement.applyUnlocked(payment, rowVersion, observation, (parameters, planned, updatedAtIsoSql) => {
      const writeBody = () => `jsonb_set(${parameters.add(JSON.stringify(toPaymentResponse(planned)), 'jsonb')}, '{updatedAt}', to_jsonb(${updatedAtIsoSql}))`;
      store = this.idempotency.responseStore(parameters, writeBody, UPDATED_PAYMENT);

      return store?.sql;
    });
    if (!unlocked) {
      return null;
    }

    const response = toPaymentResponse(unlocked.payment);
    store?.finish(response, unlocked.writtenWith);

    return response;
  }

  private async applyObservation(paymentId: string, observation: PaymentObservation): Promise<PaymentEntity> {
    const tenantId = this.context.requireTenantId();

    return this.payments.transaction((manager) => this.settleLocked(manager, tenantId, paymentId, observation));
  }

  private async settleLocked(manager: EntityManager, tenantId: string, paymentId: string, observation: PaymentObservation): Promise<PaymentEntity> {
    const locked = await this.payments.lockById(manager, tenantId, paymentId);
    if (!locked) {
      throw new DomainError('internal_error', 'The payment disappeared while it was being settled.');
    }

    // apply() writes the changes and the new updated_at into `locked`, so it is the stored row.
    await this.settlement.apply(manager, locked, observation);

    return locked;
  }
}

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: typeof error, message: String(error) };
}

/** Tells whether the insert failed because `customerId` names no customer of the payment's tenant. */
function isForeignCustomer(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) {
    return false;
  }
  const driverError = error.driverError as { code?: string; constraint?: string };

  return driverError.code === '23503' && driverError.constraint === 'payments_customer_fkey';
}
