import { Role } from '@app/common/roles/roles';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { LABEL_MAX_LENGTH } from '../tenant-validation';
import { PageQuery } from '@app/common/pagination/page-query';
import { IsNotBlank } from '@app/common/validation/blank-text';
import { Trim } from './field-validators';

const TOKEN_ROLES: Role[] = ['owner', 'admin', 'staff', 'operator'];

export class CreateTokenDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Required for tenant roles; absent for role operator' })
  @IsOptional()
  @IsUUID('all', { message: '$property must be a UUID' })
  tenantId?: string;

  @ApiProperty({ enum: TOKEN_ROLES })
  @IsIn(TOKEN_ROLES)
  role!: Role;

  @ApiProperty({ example: 'bookkeeping export', maxLength: LABEL_MAX_LENGTH })
  @Trim()
  @IsString()
  @IsNotBlank()
  @MaxLength(LABEL_MAX_LENGTH)
  label!: string;
}

export class TokensQueryDto extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this tenant\'s tokens' })
  @IsOptional()
  @IsUUID('all', { message: '$property must be a UUID' })
  tenantId?: string;
}

export class CreatedTokenResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ description: 'The token itself, shown only in this response', example: 'bst_…' }) token!: string;
  @ApiProperty({ enum: TOKEN_ROLES }) role!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) tenantId!: string | null;
  @ApiProperty() label!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
}

export class TokenResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: TOKEN_ROLES }) role!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) tenantId!: string | null;
  @ApiProperty() label!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Updated at most once a minute' }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
}

export class TokenPageResponse {
  @ApiProperty({ type: [TokenResponse] }) data!: TokenResponse[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
