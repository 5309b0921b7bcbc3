import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '@app/common/pagination/page-query';

export class OpsAuditLogQueryDto extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Only this tenant\'s entries; all entries, platform-wide ones included, when absent' })
  @IsOptional()
  @IsUUID('all', { message: '$property must be a UUID' })
  tenantId?: string;
}

export class AuditActorResponse {
  @ApiProperty({ enum: ['user', 'token', 'operator', 'system'] }) kind!: string;
  @ApiProperty({ type: String, nullable: true }) id!: string | null;
  @ApiProperty() label!: string;
}

export class AuditEntryResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) tenantId!: string | null;
  @ApiProperty({ format: 'date-time' }) at!: string;
  @ApiProperty({ type: AuditActorResponse }) actor!: AuditActorResponse;
  @ApiProperty({ example: 'tenant.live_mode_changed' }) action!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
}

export class AuditEntryPageResponse {
  @ApiProperty({ type: [AuditEntryResponse] }) data!: AuditEntryResponse[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
