import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, ValidateBy, ValidationOptions } from 'class-validator';
import { describeKeyFormatProblem, describeKeyType, StripeKeyField, trimKeyInput } from '../stripe-key-format';

/** Check the trimmed value against its field's key format. The message never quotes the value. */
function IsStripeKeyFor(field: StripeKeyField, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStripeKeyFor',
      constraints: [field],
      validator: {
        validate: (value: unknown) => describeKeyFormatProblem(value, field) === null,
        defaultMessage: (args) => describeKeyFormatProblem(args?.value, field) ?? 'is invalid',
      },
    },
    options,
  );
}

/** The key pair submitted to connect Stripe or to edit the keys of a connection. */
export class StripeKeysDto {
  @ApiProperty({ description: 'Publishable key: pk_test_… or pk_live_…', example: 'pk_test_51Nv0FGQ9RKHgCVdK8yR8' })
  @Transform(({ value }) => trimKeyInput(value))
  @IsString({ message: describeKeyType('publishableKey') })
  @IsStripeKeyFor('publishableKey')
  publishableKey!: string;

  // No example: anything shaped like a whole secret key in the OpenAPI document would trip the secret scanners.
  @ApiProperty({
    description: 'Secret key (sk_test_…, sk_live_…) or restricted key (rk_test_…, rk_live_…). Stored encrypted and never returned.',
  })
  @Transform(({ value }) => trimKeyInput(value))
  @IsString({ message: describeKeyType('secretKey') })
  @IsStripeKeyFor('secretKey')
  secretKey!: string;
}
