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
    const id = options.id.trim();
    const revocation = await this.admin.revokeToken(id);
    if (revocation.alreadyRevoked) {
      console.log(`Token ${id} was already revoked at ${revocation.revokedAt}; nothing changed.`);

      return;
    }

    console.log(`Revoked token ${id}.`);
  }

  @Option({ flags: '--id <id>', description: 'the token id (not the token itself)', required: true })
  parseId(value: string): string {
    return value;
  }
}
