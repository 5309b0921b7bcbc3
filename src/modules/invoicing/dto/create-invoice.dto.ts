import { MAXIMUM_AMOUNT } from '@app/common/money/currencies';
import { IsNotBlank } from '@app/common/validation/blank-text';
import { MaxStripeTextLength } from '@app/common/validation/stripe-text-length';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** Stripe allows at most 250 invoice items on one invoice. */
export const MAX_INVOICE_LINES = 250;
export const DEFAULT_DAYS_UNTIL_DUE = 30;

const LINE_SHAPE = 'an object with description, quantity and unitAmount';
const DESCRIPTION_MESSAGE = 'must be a non-blank string of at most 500 characters';
const QUANTITY_MESSAGE = 'must be an integer from 1 to 1000000';
const UNIT_AMOUNT_MESSAGE = `must be an integer from 0 to ${MAXIMUM_AMOUNT} in the currency's minor unit`;
const LINES_MESSAGE = `must be an array of 1 to ${MAX_INVOICE_LINES} invoice lines, each ${LINE_SHAPE}`;

export class InvoiceLineDto {
  @ApiProperty({ example: 'CPR/AED class, 12 seats', maxLength: 500 })
  @IsString({ message: DESCRIPTION_MESSAGE })
  @IsNotBlank()
  @MaxLength(500, { message: DESCRIPTION_MESSAGE })
  description!: string;

  @ApiProperty({ example: 12, minimum: 1, maximum: 1_000_000 })
  @IsInt({ message: QUANTITY_MESSAGE })
  @Min(1, { message: QUANTITY_MESSAGE })
  @Max(1_000_000, { message: QUANTITY_MESSAGE })
  quantity!: number;

  @ApiProperty({ example: 8900, minimum: 0, description: "Price of one unit in the currency's minor unit." })
  @IsInt({ message: UNIT_AMOUNT_MESSAGE })
  @Min(0, { message: UNIT_AMOUNT_MESSAGE })
  @Max(MAXIMUM_AMOUNT, { message: UNIT_AMOUNT_MESSAGE })
  unitAmount!: number;
}

/** Body of POST /api/v1/invoices: a draft, which takes its number only when it is finalized. */
export class CreateInvoiceDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  customerId!: string;

  @ApiProperty({ example: 'usd', description: 'Lower-case ISO 4217 currency code.' })
  @IsString()
  @Matches(/^[a-z]{3}$/, { message: 'must be a lower-case three-letter ISO 4217 code' })
  currency!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 365, default: DEFAULT_DAYS_UNTIL_DUE })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(365)
  daysUntilDue?: number;

  @ApiProperty({ type: [InvoiceLineDto], minItems: 1, maxItems: MAX_INVOICE_LINES })
  @IsArray({ message: LINES_MESSAGE })
  @ArrayMinSize(1, { message: LINES_MESSAGE })
  @ArrayMaxSize(MAX_INVOICE_LINES, { message: LINES_MESSAGE })
  @ValidateNested({ each: true, message: `must be an invoice line: ${LINE_SHAPE}` })
  @Type(() => InvoiceLineDto)
  // Nested validation would look inside a line given as an array and report its items as
  // lines.0.0…, so such a line is replaced by null, which fails as one line that is not an object.
  @Transform(({ value }: { value: unknown }) => (Array.isArray(value) ? value.map((line: unknown) => (Array.isArray(line) ? null : line)) : value))
  lines!: InvoiceLineDto[];

  @ApiPropertyOptional({
    example: 'PO 4711',
    maxLength: 1000,
    description: "Shown on the invoice as Stripe's description. At most 1000 UTF-16 code units: an emoji counts as two.",
  })
  @IsOptional()
  @IsString()
  @IsNotBlank({ allowEmpty: true })
  @MaxStripeTextLength(1000)
  memo?: string;
}
