import { RequestContext } from '@app/common/context/request-context';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand } from './ops-command';

interface TokensRevokeOptions {
  id: string;
}

@Command({ name: 'tokens:revoke', description: 'Revoke an API token; it is rejected from the next request on' })
export class TokensRevokeCommand extends OpsCommand<TokensRevokeOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: TokensRevokeOptions): Promise<void> {
    await this.admin.revokeToken(options.id.trim());

    console.log(`Revoked token ${options.id.trim()}.`);
  }

  @Option({ flags: '--id <id>', description: 'the token id (not the token itself)', required: true })
  parseId(value: string): string {
    return value;
  }
}
