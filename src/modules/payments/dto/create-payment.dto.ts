import type { FieldError } from '@app/common/errors/domain-error';
import { IsNotBlank } from '@app/common/validation/blank-text';
import type { ValidatesFieldsTogether } from '@app/common/validation/validation.pipe';
import { IsEmailAddress } from '@app/common/validation/email-address';
import { MaxStripeTextLength } from '@app/common/validation/stripe-text-length';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsNumber, IsObject, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { checkPaymentInput } from '../payment-input';

/**
 * Body of POST /api/v1/payments. The amount's range per currency and the
 * metadata limits are checked together (`checkPaymentInput`), because the
 * range depends on the currency. `metadata: null` is taken as none.
 */
export class CreatePaymentDto implements ValidatesFieldsTogether {
  @ApiProperty({ example: 8900, description: "Positive integer in the currency's minor unit, within Stripe's minimum and maximum charge." })
  // Only the type is checked here. The integer and range checks run with the currency's, which names an unsupported currency first.
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: "must be a positive integer in the currency's minor unit" })
  amount!: number;

  @ApiProperty({ example: 'usd', description: 'Lower-case ISO 4217 currency code.' })
  @IsString({ message: 'must be a lower-case three-letter ISO 4217 code' })
  @Matches(/^[a-z]{3}$/, { message: 'must be a lower-case three-letter ISO 4217 code' })
  currency!: string;

  @ApiProperty({ example: 'pm_card_visa', description: 'A Stripe PaymentMethod id or test token of the tenant\'s account.' })
  @IsString({ message: "must be a PaymentMethod id of the tenant's Stripe account, such as pm_card_visa" })
  @IsNotEmpty({ message: "must be a PaymentMethod id of the tenant's Stripe account, such as pm_card_visa" })
  @MaxLength(255)
  paymentMethod!: string;

  @ApiPropertyOptional({ example: 'CPR/AED class, 2 seats', maxLength: 1000, description: 'At most 1000 UTF-16 code units: an emoji counts as two.' })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxStripeTextLength(1000)
  description?: string;

  @ApiPropertyOptional({ example: 'buyer@example.com', description: 'Where Stripe sends the receipt.' })
  @IsOptional()
  @IsEmailAddress()
  @MaxLength(254)
  receiptEmail?: string;

  @ApiPropertyOptional({ type: String, format: 'uuid', nullable: true, example: null })
  @IsOptional()
  @IsUUID()
  customerId?: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 500 },
    description:
      "String values of up to 500 UTF-16 code units, at most 48 keys of up to 40 (Stripe's limit of 50 less the service's own 2). An emoji counts as two.",
    example: { classId: 'cls_42' },
  })
  @IsOptional()
  @IsObject()
  metadata?: Record<string, string> | null;

  crossFieldErrors(): FieldError[] {
    return checkPaymentInput(this);
  }
}
