import { RequestContext } from '@app/common/context/request-context';
import { DomainError } from '@app/common/errors/domain-error';
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
    const revocation = await this.admin.revokeToken(id).catch((error: unknown) => {
      // The API's 404 does not repeat the id it was given, but an operator at a terminal needs it.
      if (error instanceof DomainError && error.code === 'not_found') {
        throw new Error(`No token with id ${id}. tokens:list shows the ids of the tokens.`);
      }
      throw error;
    });
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
