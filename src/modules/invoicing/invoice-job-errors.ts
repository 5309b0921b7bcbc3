import { DomainError, StoredKeyUndecryptableError } from '@app/common/errors/domain-error';
import { PermanentJobError, RetryLaterError } from '@app/common/queues/job-errors';
import { isStripeError, isStripeKeyRejected, isStripeTransient } from '@app/common/stripe/stripe-error.mapper';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';

/** Connection problems no retry can mend: the tenant must reconnect or fix its key first. */
const PERMANENT_CONNECTION_CODES = new Set(['stripe_not_connected', 'stripe_keys_invalid', 'stripe_permission_missing']);

/**
 * Returns true when a classified error only waits for the tenant's Stripe connection. The job runs again
 * when the tenant connects or fixes its keys (ResumeInvoiceJobsWhenKeysChange), so no fault of the service stopped it.
 */
export function awaitsStripeConnection(error: Error): boolean {
  return error instanceof PermanentJobError && PERMANENT_CONNECTION_CODES.has(error.reason);
}

/**
 * Sorts an error an invoice job met into what BullMQ does next. A disconnected tenant, a
 * rejected key, a missing permission and a request Stripe rejects for its content fail the job
 * at once (PermanentJobError, no retries, so no retry storm). Timeouts, Stripe's 5xx, 409 and
 * 429 and everything unexpected are rethrown for BullMQ's backoff.
 */
@Injectable()
export class InvoiceJobErrors {
  constructor(@Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade) {}

  async classify(tenantId: string, error: unknown): Promise<Error> {
    if (error instanceof UnrecoverableError || error instanceof RetryLaterError || error instanceof StoredKeyUndecryptableError) {
      return error;
    }
    if (error instanceof DomainError) {
      return PERMANENT_CONNECTION_CODES.has(error.code) ? new PermanentJobError(error.code, `${error.code}: ${error.message}`) : error;
    }
    if (!isStripeError(error)) {
      return error instanceof Error ? error : new Error(String(error));
    }

    if (isStripeTransient(error) || error.statusCode === 409) {
      return error as unknown as Error;
    }
    if (isStripeKeyRejected(error) || error.statusCode === 403 || error.type === 'StripePermissionError') {
      // The facade turns the connection to `error` when the stored key is rejected, so later
      // jobs of the tenant fail at getClient() without calling Stripe.
      return this.classify(tenantId, await this.stripeConnection.translateStripeError(tenantId, error));
    }

    const detail = [error.code ?? error.type, error.param ? `on ${error.param}` : null].filter(Boolean).join(' ');

    return new PermanentJobError('stripe_request_rejected', `stripe_request_rejected: Stripe rejected the request (${detail}).`);
  }
}
