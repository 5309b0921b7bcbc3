import { RequestContext } from '@app/common/context/request-context';
import { validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { printTable } from './cli-output';
import { OpsCommand, resolveTenant } from './ops-command';

interface TokensListOptions {
  tenant?: string;
  limit?: string;
  cursor?: string;
}

@Command({ name: 'tokens:list', description: 'List API tokens (never the tokens themselves), newest first, with their last use' })
export class TokensListCommand extends OpsCommand<TokensListOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: TokensListOptions): Promise<void> {
    const limit = options.limit === undefined ? undefined : Number(options.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) {
      throw validationFailed([{ field: 'limit', message: `must be an integer from 1 to 100 (got "${options.limit}")` }]);
    }

    const tenant = options.tenant === undefined ? undefined : await resolveTenant(options.tenant, this.admin);
    const page = await this.admin.listTokens({ tenantId: tenant?.id, limit, cursor: options.cursor });
    if (page.data.length === 0) {
      console.log('No tokens match.');

      return;
    }

    printTable(
      ['ID', 'ROLE', 'TENANT', 'LABEL', 'CREATED', 'LAST USED', 'REVOKED'],
      page.data.map((token) => [token.id, token.role, token.tenantId ?? '-', token.label, token.createdAt, token.lastUsedAt ?? '-', token.revokedAt ?? '-']),
    );
    if (page.nextCursor) {
      console.log(`More tokens: add --cursor ${page.nextCursor}`);
    }
  }

  @Option({ flags: '--tenant <slug|id>', description: 'only this tenant\'s tokens, by slug or id' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--limit <n>', description: 'tokens per page, 1 to 100 (default 25)' })
  parseLimit(value: string): string {
    return value;
  }

  @Option({ flags: '--cursor <cursor>', description: 'the cursor printed under the previous page' })
  parseCursor(value: string): string {
    return value;
  }
}
