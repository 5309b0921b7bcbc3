import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A postal address as the HTTP contract names its fields. */
export interface CustomerAddress {
  line1: string | null;
  line2: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string | null;
}

/**
 * A business customer of one tenant, billed on payment terms. Its row is written only once
 * Stripe has created the customer, so every row has its Stripe customer id.
 */
@Entity({ name: 'customers' })
export class CustomerEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  email!: string;

  /** One of Stripe's tax id types, such as `us_ein`; null together with the value. */
  @Column({ name: 'tax_id_type', type: 'text', nullable: true })
  taxIdType!: string | null;

  @Column({ name: 'tax_id_value', type: 'text', nullable: true })
  taxIdValue!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  address!: CustomerAddress | null;

  /** The mode of the Stripe account the customer lives in; invoices to it are issued in that mode. */
  @Column({ type: 'boolean' })
  livemode!: boolean;

  @Column({ name: 'stripe_customer_id', type: 'text' })
  stripeCustomerId!: string;

  /** The `acct_…` id of the Stripe account the customer was created in; null for older rows whose account is unknown. */
  @Column({ name: 'stripe_account_id', type: 'text', nullable: true })
  stripeAccountId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
