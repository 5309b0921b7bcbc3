import { RequestContext } from '@app/common/context/request-context';
import { notFound } from '@app/common/errors/domain-error';
import { DEFAULT_PAGE_LIMIT, decodeCursor } from '@app/common/pagination/keyset-cursor';
import { STRIPE_CONNECTION_FACADE, StripeConnectionFacade } from '@app/contracts/stripe-connection.contracts';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { CustomerAddress } from './customer.entity';
import { toCustomerResponse } from './customer.mapper';
import { CustomersRepository } from './customers.repository';
import { AddressDto, CreateCustomerDto } from './dto/create-customer.dto';
import { CustomerListResponse, CustomerResponse } from './dto/customer.response';
import { ListCustomersQuery } from './dto/list-customers.query';
import { customerFieldRejection } from './invoicing.errors';
import { CUSTOMER_ID_METADATA_KEY, TENANT_ID_METADATA_KEY } from './stripe-metadata';

/** Creates the tenant's business customers in its Stripe account and reads them back. */
@Injectable()
export class CustomersService {
  private readonly logger = new Logger(CustomersService.name);

  constructor(
    private readonly context: RequestContext,
    private readonly customers: CustomersRepository,
    @Inject(STRIPE_CONNECTION_FACADE) private readonly stripeConnection: StripeConnectionFacade,
  ) {}

  /**
   * Creates the customer in Stripe first, with an idempotency key derived from the id chosen
   * here, and stores it once Stripe has it, so no row ever lacks its Stripe customer.
   */
  async create(dto: CreateCustomerDto): Promise<CustomerResponse> {
    const tenantId = this.context.requireTenantId();
    const client = await this.stripeConnection.getClient(tenantId);
    const id = randomUUID();
    const address = toAddress(dto.address);

    // NOTE: When Stripe times out after creating the customer, the client gets 502 and no row is
    // stored. A retry chooses a new id, so it creates a second Stripe customer.
    let stripeCustomer: Stripe.Customer;
    try {
      stripeCustomer = await client.stripe.customers.create(
        {
          name: dto.name,
          email: dto.email,
          address: address ? toStripeAddress(address) : undefined,
          tax_id_data: dto.taxId ? [{ type: dto.taxId.type as Stripe.CustomerCreateParams.TaxIdDatum.Type, value: dto.taxId.value }] : undefined,
          metadata: { [CUSTOMER_ID_METADATA_KEY]: id, [TENANT_ID_METADATA_KEY]: tenantId },
        },
        { idempotencyKey: `customer-${id}-create` },
      );
    } catch (error) {
      this.logger.warn({ tenantId, customerId: id, stripeError: describeStripeError(error) }, 'Creating the Stripe customer failed');
      throw customerFieldRejection(error) ?? (await this.stripeConnection.translateStripeError(tenantId, error));
    }

    const customer = await this.customers.insert({
      id,
      tenantId,
      name: dto.name,
      email: dto.email,
      taxIdType: dto.taxId?.type ?? null,
      taxIdValue: dto.taxId?.value ?? null,
      address,
      livemode: stripeCustomer.livemode,
      stripeCustomerId: stripeCustomer.id,
      stripeAccountId: client.accountId,
    });
    this.logger.log({ tenantId, customerId: id, stripeCustomerId: stripeCustomer.id }, 'Customer created');

    return toCustomerResponse(customer);
  }

  async get(id: string): Promise<CustomerResponse> {
    const customer = await this.customers.findById(this.context.requireTenantId(), id);
    if (!customer) {
      throw notFound('customer');
    }

    return toCustomerResponse(customer);
  }

  async list(query: ListCustomersQuery): Promise<CustomerListResponse> {
    const after = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const page = await this.customers.list(this.context.requireTenantId(), query.limit ?? DEFAULT_PAGE_LIMIT, after);

    return { data: page.data.map(toCustomerResponse), nextCursor: page.nextCursor };
  }
}

/**
 * Null when no address, or only empty fields, were given. An empty part is stored as null and left
 * out of the Stripe call, because Stripe rejects `""` in an address part as a parameter that
 * "cannot be unset" (the emulator copies that error).
 */
function toAddress(dto: AddressDto | null | undefined): CustomerAddress | null {
  if (!dto) {
    return null;
  }

  const address: CustomerAddress = {
    line1: dto.line1 || null,
    line2: dto.line2 || null,
    city: dto.city || null,
    state: dto.state || null,
    postalCode: dto.postalCode || null,
    country: dto.country ? dto.country.toUpperCase() : null,
  };

  return Object.values(address).some((value) => value !== null) ? address : null;
}

function toStripeAddress(address: CustomerAddress): Stripe.AddressParam {
  return {
    line1: address.line1 ?? undefined,
    line2: address.line2 ?? undefined,
    city: address.city ?? undefined,
    state: address.state ?? undefined,
    postal_code: address.postalCode ?? undefined,
    country: address.country ?? undefined,
  };
}

/** Returns the parts of a Stripe error that are safe to log, leaving out the message because it may quote a key. */
export function describeStripeError(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) {
    return { name: typeof error };
  }

  const { type, code, statusCode, param } = error as { type?: string; code?: string; statusCode?: number; param?: string };

  return { type: type ?? (error as Error).name, code, statusCode, param };
}
