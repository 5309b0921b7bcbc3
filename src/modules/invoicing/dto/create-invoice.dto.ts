import { MAXIMUM_AMOUNT } from '@app/common/money/currencies';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
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

export class InvoiceLineDto {
  @ApiProperty({ example: 'CPR/AED class, 12 seats', maxLength: 500 })
  @IsString()
  @Matches(/\S/, { message: 'must not be blank' })
  @MaxLength(500)
  description!: string;

  @ApiProperty({ example: 12, minimum: 1, maximum: 1_000_000 })
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  quantity!: number;

  @ApiProperty({ example: 8900, minimum: 0, description: "Price of one unit in the currency's minor unit." })
  @IsInt()
  @Min(0)
  @Max(MAXIMUM_AMOUNT)
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
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_INVOICE_LINES)
  @ValidateNested({ each: true })
  @Type(() => InvoiceLineDto)
  lines!: InvoiceLineDto[];

  @ApiPropertyOptional({ example: 'PO 4711', maxLength: 1000, description: "Shown on the invoice as Stripe's description." })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  memo?: string;
}
