import { RequestContext } from '@app/common/context/request-context';
import { SecretCipher } from '@app/common/crypto/secret-cipher';
import { DomainError, validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Command, Option } from 'nest-commander';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ReencryptionSummary, SecretReencryptionService, TableProgress } from '../modules/stripe-connection/secret-reencryption.service';
import { OpsCommand, allTenantIds } from './ops-command';

const DEFAULT_BATCH_SIZE = 100;
const MAX_BATCH_SIZE = 1_000;

interface SecretsReencryptOptions {
  batchSize?: string;
  maxBatches?: string;
}

@Command({
  name: 'secrets:reencrypt',
  description: 'Re-encrypt every stored secret under the first key of APP_ENCRYPTION_KEY, in small batches, while the service runs; safe to rerun',
})
export class SecretsReencryptCommand extends OpsCommand<SecretsReencryptOptions> {
  constructor(
    context: RequestContext,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: SecretsReencryptOptions): Promise<void> {
    const batchSize = parseCount('batchSize', options.batchSize, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE);
    const maxBatches = options.maxBatches === undefined ? undefined : parseCount('maxBatches', options.maxBatches, 1, Number.MAX_SAFE_INTEGER);
    if (!this.config.encryptionKeys) {
      throw new DomainError('validation_failed', 'APP_ENCRYPTION_KEY is required: the keys the service runs with, the newest first (id:base64,id:base64,…).');
    }

    const service = new SecretReencryptionService(this.dataSource, new SecretCipher(this.config.encryptionKeys));
    const summary = await service.reencryptAll(
      { batchSize, maxBatches, onProgress: (progress) => console.log(formatProgress(progress)) },
      { tenantIds: allTenantIds(this.admin), runInTenant: (tenantId, work) => this.context.runInTenant(tenantId, work) },
    );

    for (const line of formatSummary(summary)) {
      console.log(line);
    }

    const failed = summary.tables.reduce((sum, table) => sum + table.failed, 0);
    const remaining = Object.values(summary.remaining).reduce((sum, count) => sum + count, 0);
    if (summary.finished && (failed > 0 || remaining > 0)) {
      process.exitCode = 1;
    }
  }

  @Option({ flags: '--batch-size <n>', description: `rows locked and rewritten per transaction, 1 to ${MAX_BATCH_SIZE} (default ${DEFAULT_BATCH_SIZE})` })
  parseBatchSize(value: string): string {
    return value;
  }

  @Option({ flags: '--max-batches <n>', description: 'stop after this many batches; run the command again to continue (default: no limit)' })
  parseMaxBatches(value: string): string {
    return value;
  }
}

function parseCount(field: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) {
    return fallback;
  }

  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw validationFailed([{ field, message: `must be an integer from 1 to ${max} (got "${raw}")` }]);
  }

  return value;
}

function formatProgress(progress: TableProgress): string {
  return `${progress.table}: batch ${progress.batches}, ${progress.reencrypted} re-encrypted, ${progress.conflicts} changed concurrently, ${progress.failed} failed`;
}

function formatSummary(summary: ReencryptionSummary): string[] {
  const lines = [`Summary (newest key "${summary.keyId}"):`];
  for (const table of summary.tables) {
    lines.push(
      `  ${table.table}: ${table.reencrypted} re-encrypted, ${table.conflicts} changed concurrently, ${table.failed} failed, ${summary.remaining[table.table] ?? 0} still under older keys`,
    );
  }

  const remaining = Object.values(summary.remaining).reduce((sum, count) => sum + count, 0);
  if (!summary.finished) {
    lines.push(`Stopped after the batch limit with ${remaining} secret(s) still under older keys. Run the command again to continue.`);
  } else if (remaining === 0) {
    lines.push(`Done: every stored secret is under key "${summary.keyId}". Older keys can now be removed from APP_ENCRYPTION_KEY.`);
  } else {
    lines.push(
      `Finished with ${remaining} secret(s) still under older keys. Keep the older keys in APP_ENCRYPTION_KEY; see the errors above, ` +
        `make sure every process runs with "${summary.keyId}" first, then run the command again.`,
    );
  }

  return lines;
}
