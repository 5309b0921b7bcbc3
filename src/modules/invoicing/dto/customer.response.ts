import { ApiProperty } from '@nestjs/swagger';

export class TaxIdResponse {
  @ApiProperty({ example: 'us_ein' })
  type!: string;

  @ApiProperty({ example: '12-3456789' })
  value!: string;
}

export class AddressResponse {
  @ApiProperty({ type: String, nullable: true })
  line1!: string | null;

  @ApiProperty({ type: String, nullable: true })
  line2!: string | null;

  @ApiProperty({ type: String, nullable: true })
  city!: string | null;

  @ApiProperty({ type: String, nullable: true })
  state!: string | null;

  @ApiProperty({ type: String, nullable: true })
  postalCode!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'US' })
  country!: string | null;
}

/** A customer as the HTTP contract shows it: every field present, null where it has no value. */
export class CustomerResponse {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'Acme Corp' })
  name!: string;

  @ApiProperty({ example: 'billing@acme.example' })
  email!: string;

  @ApiProperty({ type: TaxIdResponse, nullable: true })
  taxId!: TaxIdResponse | null;

  @ApiProperty({ type: AddressResponse, nullable: true })
  address!: AddressResponse | null;

  @ApiProperty({ description: 'Whether the customer lives in the live mode of the Stripe account.' })
  livemode!: boolean;

  @ApiProperty({ example: 'cus_NffrFeUfNV2Hib' })
  stripeCustomerId!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}

export class CustomerListResponse {
  @ApiProperty({ type: [CustomerResponse] })
  data!: CustomerResponse[];

  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
