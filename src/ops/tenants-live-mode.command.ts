import { RequestContext } from '@app/common/context/request-context';
import { validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand, resolveTenant } from './ops-command';

interface TenantsLiveModeOptions {
  tenant: string;
  allowed: string;
}

@Command({ name: 'tenants:live-mode', description: 'Allow or forbid live Stripe keys for a tenant' })
export class TenantsLiveModeCommand extends OpsCommand<TenantsLiveModeOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: TenantsLiveModeOptions): Promise<void> {
    if (options.allowed !== 'true' && options.allowed !== 'false') {
      throw validationFailed([{ field: 'allowed', message: `must be true or false (got "${options.allowed}")` }]);
    }

    const tenant = await resolveTenant(options.tenant, this.admin);
    const updated = await this.admin.setLiveModeAllowed(tenant.id, options.allowed === 'true');

    console.log(`Live mode is now ${updated.liveModeAllowed ? 'allowed' : 'forbidden'} for tenant ${updated.slug}.`);
  }

  @Option({ flags: '--tenant <slug|id>', description: 'the tenant, by slug or id', required: true })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--allowed <true|false>', description: 'true allows live keys, false forbids them', required: true })
  parseAllowed(value: string): string {
    return value;
  }
}
