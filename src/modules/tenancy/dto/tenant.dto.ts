import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotBlank } from '@app/common/validation/blank-text';
import { IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';
import { DEFAULT_TIME_ZONE, NAME_MAX_LENGTH } from '../tenant-validation';
import { IsIanaTimeZone, IsSlug, Trim } from './field-validators';

export class CreateTenantDto {
  @ApiProperty({ example: 'acme-training', pattern: '^[a-z0-9-]{2,63}$' })
  @Trim()
  @IsSlug()
  slug!: string;

  @ApiProperty({ example: 'Acme Training', maxLength: NAME_MAX_LENGTH })
  @Trim()
  @IsString()
  @IsNotBlank()
  @MaxLength(NAME_MAX_LENGTH)
  name!: string;

  @ApiPropertyOptional({ example: DEFAULT_TIME_ZONE, default: DEFAULT_TIME_ZONE, description: 'IANA time zone name' })
  @IsOptional()
  @Trim()
  @IsIanaTimeZone()
  timeZone?: string;
}

export class UpdateTenantDto {
  @ApiPropertyOptional({ maxLength: NAME_MAX_LENGTH })
  @IsOptional()
  @Trim()
  @IsString()
  @IsNotBlank()
  @MaxLength(NAME_MAX_LENGTH)
  name?: string;

  @ApiPropertyOptional({ example: 'Europe/Berlin', description: 'IANA time zone name' })
  @IsOptional()
  @Trim()
  @IsIanaTimeZone()
  timeZone?: string;
}

export class SetLiveModeDto {
  @ApiProperty({ description: 'Whether the tenant may connect live Stripe keys' })
  @IsBoolean()
  allowed!: boolean;
}

export class TenantResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() slug!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ example: DEFAULT_TIME_ZONE }) timeZone!: string;
  @ApiProperty() liveModeAllowed!: boolean;
  @ApiProperty({ enum: ['active'] }) status!: 'active';
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
}

export class TenantPageResponse {
  @ApiProperty({ type: [TenantResponse] }) data!: TenantResponse[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
