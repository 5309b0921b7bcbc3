import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade, TenantStripeClient } from '@app/contracts/stripe-connection.contracts';
import { PermanentJobError } from '@app/common/queues/job-errors';
import { Inject, Injectable } from '@nestjs/common';
import type { CustomerEntity } from './customer.entity';
import { CustomersRepository } from './customers.repository';
import type { InvoiceEntity } from './invoice.entity';

/** The tenant's Stripe client and the invoice's customer, as the invoice jobs need them. */
export interface IssuingContext {
  client: TenantStripeClient;
  customer: CustomerEntity;
}

/** Resolves what an invoice job needs to call Stripe, failing permanently when it never can. */
@Injectable()
export class InvoiceStripeClient {
  constructor(
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
    private readonly customers: CustomersRepository,
  ) {}

  /** Returns the tenant's client, or throws `stripe_not_connected` or `stripe_keys_invalid` without calling Stripe. */
  async clientFor(tenantId: string): Promise<TenantStripeClient> {
    return this.stripeConnection.getClient(tenantId);
  }

  /**
   * Returns the client and the customer of a B2B invoice. The customer must live in the Stripe
   * account and the mode the tenant is connected to now, because a Stripe customer exists in one
   * account and one mode only.
   */
  async issuingContext(invoice: InvoiceEntity): Promise<IssuingContext> {
    const client = await this.clientFor(invoice.tenantId);
    const customer = invoice.customerId ? await this.customers.findById(invoice.tenantId, invoice.customerId) : null;

    return this.checkedContext(invoice, customer, client);
  }

  /** Returns what `issuingContext` returns, for the invoice's customer as the caller read it (null when none is stored). */
  async issuingContextWith(invoice: InvoiceEntity, customer: CustomerEntity | null): Promise<IssuingContext> {
    return this.checkedContext(invoice, customer, await this.clientFor(invoice.tenantId));
  }

  private checkedContext(invoice: InvoiceEntity, customer: CustomerEntity | null, client: TenantStripeClient): IssuingContext {
    if (!customer) {
      throw new PermanentJobError('customer_missing', `customer_missing: invoice ${invoice.id} names customer ${invoice.customerId}, which is not stored`);
    }
    if (customer.stripeAccountId !== null && customer.stripeAccountId !== client.accountId) {
      throw new PermanentJobError(
        'account_mismatch',
        `account_mismatch: customer ${customer.id} lives in Stripe account ${customer.stripeAccountId}, but the tenant is connected to ${client.accountId}`,
      );
    }
    if (customer.livemode !== (client.mode === 'live')) {
      throw new PermanentJobError(
        'mode_mismatch',
        `mode_mismatch: customer ${customer.id} lives in ${customer.livemode ? 'live' : 'test'} mode, but the tenant is connected in ${client.mode} mode`,
      );
    }

    return { client, customer };
  }
}
