import type { CustomerEntity } from './customer.entity';
import { CustomerResponse } from './dto/customer.response';

/** Builds the response body field by field, so no stored column leaks by accident. */
export function toCustomerResponse(customer: CustomerEntity): CustomerResponse {
  return {
    id: customer.id,
    name: customer.name,
    email: customer.email,
    taxId: customer.taxIdType !== null && customer.taxIdValue !== null ? { type: customer.taxIdType, value: customer.taxIdValue } : null,
    address: customer.address
      ? {
          line1: customer.address.line1,
          line2: customer.address.line2,
          city: customer.address.city,
          state: customer.address.state,
          postalCode: customer.address.postalCode,
          country: customer.address.country,
        }
      : null,
    livemode: customer.livemode,
    stripeCustomerId: customer.stripeCustomerId,
    createdAt: customer.createdAt.toISOString(),
  };
}
