import { RequestContext } from '@app/common/context/request-context';
import { Role } from '@app/common/roles/roles';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand, resolveTenant } from './ops-command';

interface TokensCreateOptions {
  role: string;
  label: string;
  tenant?: string;
}

/** Prints the new token alone on the last line, so scripts can take it with `tail -n 1`. */
@Command({
  name: 'tokens:create',
  description: 'Create an API token and print it (shown only once) alone on the last line',
})
export class TokensCreateCommand extends OpsCommand<TokensCreateOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: TokensCreateOptions): Promise<void> {
    const tenant = options.tenant === undefined ? null : await resolveTenant(options.tenant, this.admin);
    const created = await this.admin.createToken({ tenantId: tenant?.id ?? null, role: options.role as Role, label: options.label });

    const owner = tenant ? `tenant ${tenant.slug}` : 'the platform';
    console.log(`Created ${created.role} token "${created.label}" for ${owner} (token id ${created.id}).`);
    console.log('The token is shown only this once:');
    console.log(created.token);
  }

  @Option({ flags: '--role <role>', description: 'owner, admin, staff, or operator', required: true })
  parseRole(value: string): string {
    return value;
  }

  @Option({ flags: '--label <label>', description: 'what the token is for, shown in token lists and audit entries', required: true })
  parseLabel(value: string): string {
    return value;
  }

  @Option({ flags: '--tenant <slug|id>', description: 'the tenant, by slug or id; required for tenant roles, absent for operator' })
  parseTenant(value: string): string {
    return value;
  }
}
