import { IsNotBlank } from '@app/common/validation/blank-text';
import { IsEmailAddress } from '@app/common/validation/email-address';
import { MaxStripeTextLength } from '@app/common/validation/stripe-text-length';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, MaxLength, ValidateBy, ValidateNested, isISO31661Alpha2 } from 'class-validator';
import { TAX_ID_TYPES } from '../tax-id-types';

export class TaxIdDto {
  @ApiProperty({ example: 'us_ein', description: "One of Stripe's tax id types." })
  @IsString()
  @IsIn(TAX_ID_TYPES, { message: "must be one of Stripe's tax id types, such as us_ein or eu_vat" })
  type!: string;

  @ApiProperty({ example: '12-3456789', maxLength: 64 })
  @IsString()
  @IsNotBlank()
  @MaxLength(64)
  value!: string;
}

export class AddressDto {
  @ApiPropertyOptional({ type: String, nullable: true, example: '1 Main St', maxLength: 200 })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxLength(200)
  line1?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'Suite 400', maxLength: 200 })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxLength(200)
  line2?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'Chicago', maxLength: 200 })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxLength(200)
  city?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'IL', maxLength: 200 })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxLength(200)
  state?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: '60601', maxLength: 40 })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxLength(40)
  postalCode?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'US', description: 'ISO 3166-1 alpha-2 country code, or XK for Kosovo as Stripe takes it.' })
  @IsOptional()
  @IsString()
  @ValidateBy({ name: 'isCountryCode', validator: { validate: isCountryCode, defaultMessage: () => 'must be a two-letter ISO 3166-1 country code, such as US' } })
  country?: string | null;
}

/** Tell whether `value` is an assigned ISO 3166-1 alpha-2 code in either case, or XK, which Stripe takes for Kosovo. */
function isCountryCode(value: unknown): boolean {
  if (typeof value !== 'string' || !/^[A-Za-z]{2}$/.test(value)) {
    return false;
  }

  const code = value.toUpperCase();

  return code === 'XK' || isISO31661Alpha2(code);
}

/** Body of POST /api/v1/customers. */
export class CreateCustomerDto {
  @ApiProperty({ example: 'Acme Corp', maxLength: 256, description: 'At most 256 UTF-16 code units: an emoji counts as two.' })
  @IsString()
  @IsNotBlank()
  @MaxStripeTextLength(256)
  name!: string;

  @ApiProperty({ example: 'billing@acme.example', maxLength: 512 })
  @IsEmailAddress()
  @MaxLength(512)
  email!: string;

  @ApiPropertyOptional({ type: TaxIdDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => TaxIdDto)
  taxId?: TaxIdDto | null;

  @ApiPropertyOptional({ type: AddressDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => AddressDto)
  address?: AddressDto | null;
}
