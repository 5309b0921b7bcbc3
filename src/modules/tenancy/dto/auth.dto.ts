import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { Trim } from './field-validators';

/** Login credentials, checked here only for type and size, because any wrong part gets the same 401. */
export class LoginDto {
  @ApiPropertyOptional({ description: 'Tenant slug; absent for a platform operator', example: 'acme-training' })
  @IsOptional()
  @Trim()
  @IsString()
  @MaxLength(63)
  tenant?: string;

  @ApiProperty({ example: 'owner@example.com' })
  @Trim()
  @IsString()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ writeOnly: true })
  @IsString()
  @MaxLength(1024)
  password!: string;
}

export class MeUserResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() email!: string;
}

export class MeTenantResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() slug!: string;
  @ApiProperty() name!: string;
}

export class MeResponse {
  @ApiProperty({ enum: ['session', 'token'] }) via!: 'session' | 'token';
  @ApiProperty({ type: MeUserResponse, nullable: true, description: 'Null for a token' }) user!: MeUserResponse | null;
  @ApiProperty({ type: MeTenantResponse, nullable: true, description: 'Null for an operator' }) tenant!: MeTenantResponse | null;
  @ApiProperty({ enum: ['owner', 'admin', 'staff', 'operator'] }) role!: string;
}
