import { ApiProperty, ApiPropertyOptional, HeaderObject, ResponseObject, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CATALOG, ErrorCode } from './error-codes';
import { PROBLEM_CONTENT_TYPE } from './problem-details';

export class FieldErrorResponse {
  @ApiProperty({ description: 'The field as the client sent it, by its dotted path, or a header name', example: 'secretKey' })
  field!: string;

  @ApiProperty({ example: 'must start with sk_test_, sk_live_, rk_test_ or rk_live_' })
  message!: string;
}

/**
 * The body that ProblemDetailsFilter sends for every error (RFC 9457 problem
 * details), as problemFromDomainError builds it. The optional members after `errors` are
 * the extensions that particular codes add.
 */
export class ProblemDetailsResponse {
  @ApiProperty({ example: 'about:blank', description: 'Always about:blank, because `code` identifies the problem' })
  type!: string;

  @ApiProperty({ example: 'Stripe is not connected' })
  title!: string;

  @ApiProperty({ type: 'integer', description: 'The HTTP status code', example: 409 })
  status!: number;

  @ApiProperty({ enum: Object.keys(ERROR_CATALOG), example: 'stripe_not_connected', description: 'Stable and machine-readable' })
  code!: ErrorCode;

  @ApiProperty({ example: 'Connect Stripe in Settings → Billing before taking a payment.' })
  detail!: string;

  @ApiPropertyOptional({ type: [FieldErrorResponse], description: 'Each submitted field at fault: on `validation_failed` and on errors about a particular field' })
  errors?: FieldErrorResponse[];

  @ApiPropertyOptional({ format: 'uuid', description: 'On `card_declined`, `refund_exceeds_payment` and the `invalid_state` of a refund' })
  paymentId?: string;

  @ApiPropertyOptional({ type: String, nullable: true, description: "On `card_declined`: Stripe's error code" })
  failureCode?: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, description: "On `card_declined`: Stripe's decline code" })
  declineCode?: string | null;

  @ApiPropertyOptional({ description: 'On the `invalid_state` of a refund: the payment status' })
  paymentStatus?: string;

  @ApiPropertyOptional({ description: 'On the `invalid_state` of an invoice action the status does not allow: the invoice status' })
  invoiceStatus?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'On `refund_exceeds_payment`: what is left to refund, in the minor unit' })
  amountRefundable?: number;

  @ApiPropertyOptional({ type: String, nullable: true, description: 'On `stripe_permission_missing`: the permission the restricted key lacks, when Stripe names it' })
  permission?: string | null;

  @ApiPropertyOptional({ description: "On an `invalid_state` that Stripe reported: Stripe's error code" })
  stripeCode?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'On the `service_unavailable` of a replay of many events: how many were replayed before Redis failed' })
  replayed?: number;
}

export const RETRY_AFTER_HEADER: Record<string, HeaderObject> = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
};

/**
 * Builds an OpenAPI response whose body is the ProblemDetailsResponse schema.
 * The document must list ProblemDetailsResponse among its extra models.
 */
export function problemResponse(description: string, headers?: ResponseObject['headers']): ResponseObject {
  return {
    description,
    ...(headers === undefined ? {} : { headers }),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetailsResponse) } } },
  };
}
