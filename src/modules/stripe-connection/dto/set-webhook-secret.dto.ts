import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';

/** The signing secret of a tenant endpoint pasted by hand in the Stripe Dashboard. */
export class SetWebhookSecretDto {
  @ApiProperty({ description: 'The endpoint signing secret, whsec_…; stored encrypted and never returned.', example: 'whsec_…' })
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @Matches(/^whsec_[A-Za-z0-9+/=]{16,250}$/, { message: 'must be whsec_ followed by 16 to 250 letters, digits, +, / or =' })
  secret!: string;
}
