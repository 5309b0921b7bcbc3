import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound, validationFailed } from '@app/common/errors/domain-error';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { isStripeError } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { CreatePaymentDto } from './dto/create-payment.dto';
import { ListPaymentsQuery } from './dto/list-payments.query';
import { PaymentListResponse, PaymentResponse } from './dto/payment.response';
import { PaymentEntity } from './payment.entity';
import { PAYMENT_ID_METADATA_KEY, TENANT_ID_METADATA_KEY, checkPaymentInput } from './payment-input';
import { toPaymentResponse } from './payment.mapper';
import { CardErrorLike, PaymentObservation, observeCardError, observeIntent } from './payment-observation';
import { PaymentSettlementService } from './payment-settlement.service';
import { cardDeclined } from './payments.errors';
import { PaymentsRepository } from './payments.repository';

/** The fields of stripe-node's StripeError that tell whether Stripe created anything. */
interface StripeErrorFields {
  type: string;
  statusCode?: number;
  code?: string;
  param?: string;
  payment_intent?: Stripe.PaymentIntent;
}

/** Takes card payments on the tenant's Stripe account and reads them back. */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly payments: PaymentsRepository,
    private readonly settlement: PaymentSettlementService,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {}

  /**
   * Creates and confirms a card PaymentIntent. The payment row is written
   * before Stripe is called, so a webhook that beats Stripe's response finds it
   * through the intent's metadata, and the idempotency key derives from its id.
   */
  async create(dto: CreatePaymentDto): Promise<PaymentResponse> {
    const tenantId = this.context.requireTenantId();
    const inputErrors = checkPaymentInput(dto);
    if (inputErrors.length > 0) {
      throw validationFailed(inputErrors);
    }

    const client = await this.stripeConnection.getClient(tenantId);
    const metadata = { ...(dto.metadata ?? {}) };
    const payment = await this.payments.insertProcessing({
      tenantId,
      amount: dto.amount,
      currency: dto.currency,
      description: dto.description ?? null,
      receiptEmail: dto.receiptEmail ?? null,
      livemode: client.mode === 'live',
      // NOTE: The customer id is stored as given. Nothing checks that the
      // customer exists, and the PaymentIntent is not tied to a Stripe customer.
      customerId: dto.customerId ?? null,
      metadata,
    });

    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.createPaymentIntent(client, payment, dto.paymentMethod);
    } catch (error) {
      throw await this.handleStripeError(payment, error);
    }

    const settled = await this.applyObservation(payment.id, observeIntent(intent, null));

    return toPaymentResponse(settled);
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

      return this.stripeConnection.translateStripeError(payment.tenantId, error);
    }

    this.logger.warn(
      { ...logContext, stripeErrorType: stripeError.type, statusCode: stripeError.statusCode },
      'Creating the PaymentIntent failed; the payment stays processing until Stripe reports its outcome',
    );

    return this.stripeConnection.translateStripeError(payment.tenantId, error);
  }

  private async applyObservation(paymentId: string, observation: PaymentObservation): Promise<PaymentEntity> {
    const tenantId = this.context.requireTenantId();

    return this.payments.transaction(async (manager) => {
      const locked = await this.payments.lockById(manager, tenantId, paymentId);
      if (!locked) {
        throw new DomainError('internal_error', 'The payment disappeared while it was being settled.');
      }

      await this.settlement.apply(manager, locked, observation);

      return (await this.payments.findById(tenantId, paymentId, manager)) ?? locked;
    });
  }
}

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: typeof error, message: String(error) };
}
