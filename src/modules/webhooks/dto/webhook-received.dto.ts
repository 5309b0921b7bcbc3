import { ApiProperty } from '@nestjs/swagger';

/** The acknowledgement Stripe gets for every stored delivery, duplicates and ignored events included. */
export class WebhookReceivedDto {
  @ApiProperty({ example: true, enum: [true] })
  received!: true;
}
