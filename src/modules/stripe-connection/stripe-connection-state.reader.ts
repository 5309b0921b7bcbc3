import type { ConnectionView, StripeConnectionState } from '@app/contracts/stripe-connection.contracts';
import { Injectable } from '@nestjs/common';
import { StripeConnectionEntity } from './stripe-connection.entity';
import { StripeConnectionRepository } from './stripe-connection.repository';

/** Reads a tenant's connection state without decrypting anything. Bound to STRIPE_CONNECTION_STATE. */
@Injectable()
export class StripeConnectionStateReader implements StripeConnectionState {
  constructor(private readonly repository: StripeConnectionRepository) {}

  async getConnection(tenantId: string): Promise<ConnectionView> {
    const connection = await this.repository.findByTenant(tenantId);

    return toConnectionView(connection);
  }
}

export function toConnectionView(connection: StripeConnectionEntity | null): ConnectionView {
  if (!connection || connection.status === 'not_connected') {
    return { status: 'not_connected', mode: null, accountId: null };
  }

  return { status: connection.status, mode: connection.mode, accountId: connection.accountId };
}
