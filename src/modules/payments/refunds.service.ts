import { RequestContext } from '@app/common/context/request-context';
import { notFound } from '@app/common/errors/domain-error';
import { IdempotencyService } from '@app/common/idempotency/idempotency.service';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { TENANCY_FACADE, TenancyFacade } from '@app/contracts/tenancy.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CreateRefundDto } from './dto/create-refund.dto';
import { ListRefundsQuery } from './dto/list-refunds.query';
import { RefundListResponse, RefundResponse } from './dto/refund.response';
import { intentStatusOf } from './payment-status';
import { paymentNotRefundable, refundExceedsPayment } from './payments.errors';
import { PaymentsRepository } from './payments.repository';
import { RefundEntity } from './refund.entity';
import { toRefundResponse } from './refund.mapper';
import { refundableAmount } from './refund-status';
import { RefundSubmissionService } from './refund-submission.service';
import { RefundsRepository } from './refunds.repository';
import { SubmitRefundJobs } from './submit-refund.job';

/**
 * Refunds requested through the API. What is left to refund is decided under
 * the payment's row lock before Stripe is called, so concurrent requests
 * never reserve more than the payment. The refund is stored (pending) before
 * its Stripe request, whose idempotency key derives from its id.
 */
@Injectable()
export class RefundsService {
  private readonly logger = new Logger(RefundsService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly idempotency: IdempotencyService,
    private readonly payments: PaymentsRepository,
    private readonly refunds: RefundsRepository,
    private readonly submission: RefundSubmissionService,
    private readonly jobs: SubmitRefundJobs,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    @Inject(TENANCY_FACADE) private readonly tenancy: TenancyFacade,
  ) {}

  /**
   * Refunds `dto.amount` of a payment, or all that is left. Checked in this
   * order: the payment exists (404), the tenant's Stripe connection is usable
   * (409/422, before anything is written), the payment succeeded (409
   * invalid_state), the amount is within what is left (422).
   */
  async create(paymentId: string, dto: CreateRefundDto): Promise<RefundResponse> {
    const tenantId = this.context.requireTenantId();
    const activeKey = this.idempotency.activeKey();
    if (activeKey?.recovered) {
      const resumed = await this.resume(tenantId, paymentId, activeKey.id);
      if (resumed) {
        return resumed;
      }
    }

    const payment = await this.payments.findById(tenantId, paymentId);
    if (!payment) {
      throw notFound('payment');
    }

    const client = await this.stripeConnection.getClient(tenantId);
    const refund = await this.reserve(tenantId, paymentId, dto, activeKey?.id ?? null);

    return this.send(client, refund, false);
  }

  async list(paymentId: string, query: ListRefundsQuery): Promise<RefundListResponse> {
    const tenantId = this.context.requireTenantId();
    const payment = await this.payments.findById(tenantId, paymentId);
    if (!payment) {
      throw notFound('payment');
    }

    const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const page = await this.refunds.listPage(tenantId, paymentId, query.limit ?? DEFAULT_PAGE_LIMIT, after);

    return { data: page.data.map(toRefundResponse), nextCursor: page.nextCursor };
  }

  /**
   * Stores a pending refund after checking, with the payment locked, that the
   * payment succeeded and that the amount is within what is left to refund.
   * The audit entry names the principal who made the request.
   */
  private async reserve(tenantId: string, paymentId: string, dto: CreateRefundDto, idempotencyKeyId: string | null): Promise<RefundEntity> {
    return this.payments.transaction(async (manager) => {
      const payment = await this.payments.lockById(manager, tenantId, paymentId);
      if (!payment) {
        throw notFound('payment');
      }
      if (intentStatusOf(payment.status) !== 'succeeded' || !payment.stripePaymentIntentId) {
        throw paymentNotRefundable(payment);
      }

      const refundable = refundableAmount(payment.amount, await this.refunds.listForPayment(manager, tenantId, paymentId));
      const amount = dto.amount ?? refundable;
      if (refundable === 0 || amount > refundable) {
        throw refundExceedsPayment(payment, dto.amount ?? null, refundable);
      }

      const refund = await this.refunds.insert(manager, {
        tenantId,
        paymentId,
        amount,
        currency: payment.currency,
        status: 'pending',
        reason: dto.reason ?? null,
        origin: 'api',
        stripeRefundId: null,
        failureReason: null,
        idempotencyKeyId,
        lastStripeEventCreated: null,
      });
      await this.tenancy.recordAudit(
        {
          tenantId,
          action: 'payment.refunded',
          details: { paymentId, refundId: refund.id, amount, currency: payment.currency, reason: refund.reason, origin: 'api' },
        },
        manager,
      );

      return refund;
    });
  }

  /**
   * Continues the refund an earlier request with the same Idempotency-Key and
   * body started. It returns the refund once Stripe named it, and sends it
   * again (same Stripe idempotency key) while Stripe has not responded. When
   * Stripe never took it, it returns null, so a new refund is requested.
   */
  private async resume(tenantId: string, paymentId: string, idempotencyKeyId: string): Promise<RefundResponse | null> {
    const earlier = await this.refunds.findByIdempotencyKeyId(tenantId, idempotencyKeyId);
    if (!earlier || earlier.paymentId !== paymentId) {
      return null;
    }

    const logContext = { tenantId, paymentId, refundId: earlier.id, idempotencyKeyId };
    if (earlier.stripeRefundId === null && earlier.status === 'failed') {
      await this.refunds.detachIdempotencyKey(tenantId, earlier.id);
      this.logger.log(logContext, 'Retried refund request: Stripe never took the earlier refund, so a new one is requested');

      return null;
    }
    if (earlier.stripeRefundId !== null || earlier.status !== 'pending') {
      this.logger.log(logContext, 'Retried refund request: the earlier refund is returned');

      return toRefundResponse(earlier);
    }

    this.logger.log(logContext, 'Retried refund request: the earlier refund is sent to Stripe again');
    const client = await this.stripeConnection.getClient(tenantId);

    return this.send(client, earlier, true);
  }

  private async send(client: TenantStripeClient, refund: RefundEntity, lookUpFirst: boolean): Promise<RefundResponse> {
    const outcome = await this.submission.submit(client, refund, { lookUpFirst });
    if (outcome.kind === 'applied') {
      return toRefundResponse(outcome.refund);
    }

    if (outcome.kind === 'unanswered') {
      await this.jobs.enqueue({ tenantId: refund.tenantId, refundId: refund.id });
    }

    throw outcome.error;
  }
}
