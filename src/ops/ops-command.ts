import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound } from '@app/common/errors/domain-error';
import type { TenancyAdmin, TenancyFacade, TenantView } from '@app/contracts/tenancy.contracts';
import { CommandRunner } from 'nest-commander';

/** CLI option names of the fields that services report errors about. */
const OPTION_BY_FIELD: Record<string, string> = {
  allowed: '--allowed',
  batchSize: '--batch-size',
  cursor: '--cursor',
  email: '--email',
  id: '--id',
  label: '--label',
  limit: '--limit',
  maxBatches: '--max-batches',
  name: '--name',
  password: '--password',
  queue: '--queue',
  role: '--role',
  since: '--since',
  slug: '--slug',
  status: '--status',
  tenantId: '--tenant',
  timeZone: '--time-zone',
  until: '--until',
};

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Base of every ops command: runs the work in a request context of its own
 * with no principal, so audit entries name the system actor `ops-cli`, in the
 * `ops-cli` cross-tenant path, because operators manage every tenant.
 */
export abstract class OpsCommand<TOptions> extends CommandRunner {
  constructor(protected readonly context: RequestContext) {
    super();
  }

  async run(_params: string[], options?: Record<string, unknown>): Promise<void> {
    await this.context.runAcrossTenants('ops-cli', () => this.execute((options ?? {}) as TOptions));
  }

  protected abstract execute(options: TOptions): Promise<void>;
}

/** Finds the tenant named by `--tenant`: by id when the value looks like a UUID, else by slug. */
export async function resolveTenant(reference: string, admin: TenancyAdmin, facade: TenancyFacade): Promise<TenantView> {
  const trimmed = reference.trim();
  const tenant = UUID_PATTERN.test(trimmed) ? await facade.getTenant(trimmed) : await admin.findTenantBySlug(trimmed);
  if (!tenant) {
    throw notFound(`tenant with the slug or id "${trimmed}"`);
  }

  return tenant;
}

/** Formats the error of a failed command: its detail, then one line per field at fault, by CLI option name. */
export function formatCliError(error: unknown): string {
  if (error instanceof DomainError) {
    const lines = [`Error: ${error.message}`];
    for (const fieldError of error.errors ?? []) {
      lines.push(`  ${OPTION_BY_FIELD[fieldError.field] ?? fieldError.field}: ${fieldError.message}`);
    }

    return lines.join('\n');
  }

  return `Error: ${error instanceof Error ? error.message : String(error)}`;
}
