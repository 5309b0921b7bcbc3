import { TENANT_ROLES, TenantRole } from '@app/common/roles/roles';
import { IsEmailAddress } from '@app/common/validation/email-address';
import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength } from 'class-validator';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../passwords';
import { MeetsPasswordPolicy, Trim } from './field-validators';

export class CreateUserDto {
  @ApiProperty({ example: 'owner@example.com', description: 'Stored lower-cased' })
  @Trim()
  @IsString()
  @MaxLength(254)
  @IsEmailAddress()
  email!: string;

  @ApiProperty({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, writeOnly: true })
  @MeetsPasswordPolicy()
  password!: string;

  @ApiProperty({ enum: TENANT_ROLES })
  @IsIn(TENANT_ROLES)
  role!: TenantRole;
}

export class UserResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
  @ApiProperty({ enum: [...TENANT_ROLES, 'operator'] }) role!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) tenantId!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}
