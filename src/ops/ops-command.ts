import { RequestContext } from '@app/common/context/request-context';
import { DomainError, notFound, validationFailed } from '@app/common/errors/domain-error';
import type { TenancyAdmin, TenantView } from '@app/contracts/tenancy.contracts';
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
  tenant: '--tenant',
  tenantId: '--tenant',
  timeZone: '--time-zone',
  until: '--until',
};

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Tenants read per page when a command works through every tenant. */
const TENANT_PAGE_SIZE = 100;

/**
 * Base of every ops command: runs the work in a request context of its own
 * with no principal, so audit entries name the system actor `ops-cli`, and no
 * tenant. A command reaches a tenant's rows in that tenant
 * (RequestContext.runInTenant), and rows without a tenant or every tenant's
 * rows through the services' SECURITY DEFINER functions.
 */
export abstract class OpsCommand<TOptions> extends CommandRunner {
  constructor(protected readonly context: RequestContext) {
    super();
  }

  async run(params: string[], options?: Record<string, unknown>): Promise<void> {
    // No command takes positional arguments, so one is a value that lost its quotes (`--name Acme Training`).
    if (params.length > 0) {
      throw validationFailed(
        params.map((param) => ({ field: 'arguments', message: `Unexpected argument "${param}": quote an option's value when it contains spaces` })),
        `The command takes options only, but got ${params.length === 1 ? 'an argument' : 'arguments'} outside them.`,
      );
    }

    // Node decodes arguments and the environment as UTF-8 and puts U+FFFD for bytes that are not.
    // A name typed in a Latin-1 terminal would be stored, and audited, garbled.
    const values: [string, unknown][] = [...Object.entries(options ?? {}), ['OPS_OPERATOR', process.env.OPS_OPERATOR]];
    const garbled = values.find(([, value]) => typeof value === 'string' && value.includes('\ufffd'));
    if (garbled !== undefined) {
      throw validationFailed(
        [{ field: garbled[0], message: "is not UTF-8 text: check the terminal's encoding" }],
        'An option or OPS_OPERATOR holds bytes that are not UTF-8, or the character U+FFFD that stands in for them.',
      );
    }

    await this.context.runWithoutTenant(() => this.execute((options ?? {}) as TOptions));
  }

  protected abstract execute(options: TOptions): Promise<void>;
}

/** Finds the tenant named by `--tenant`: by id when the value looks like a UUID, else by slug. */
export async function resolveTenant(reference: string, admin: TenancyAdmin): Promise<TenantView> {
  const trimmed = reference.trim();
  const tenant = UUID_PATTERN.test(trimmed) ? await admin.findTenantById(trimmed) : await admin.findTenantBySlug(trimmed);
  if (!tenant) {
    throw notFound(`tenant with the slug or id "${trimmed}"`);
  }

  return tenant;
}

/** Yields the id of every tenant, newest first, reading them a page at a time. */
export async function* allTenantIds(admin: TenancyAdmin): AsyncGenerator<string> {
  let cursor: string | undefined;
  do {
    const page = await admin.listTenants({ limit: TENANT_PAGE_SIZE, cursor });
    for (const tenant of page.data) {
      yield tenant.id;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
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
