import { RequestContext } from '@app/common/context/request-context';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand } from './ops-command';

interface TenantsCreateOptions {
  slug: string;
  name: string;
  timeZone?: string;
}

@Command({ name: 'tenants:create', description: 'Create a tenant' })
export class TenantsCreateCommand extends OpsCommand<TenantsCreateOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: TenantsCreateOptions): Promise<void> {
    const tenant = await this.admin.createTenant({ slug: options.slug, name: options.name, timeZone: options.timeZone });

    console.log(`Created tenant ${tenant.slug} ("${tenant.name}", time zone ${tenant.timeZone}).`);
    console.log(tenant.id);
  }

  @Option({ flags: '--slug <slug>', description: 'lower-case letters, digits and hyphens, 2 to 63 characters', required: true })
  parseSlug(value: string): string {
    return value;
  }

  @Option({ flags: '--name <name>', description: 'display name of the tenant', required: true })
  parseName(value: string): string {
    return value;
  }

  @Option({ flags: '--time-zone <zone>', description: 'IANA time zone used for invoice years (default America/Chicago)' })
  parseTimeZone(value: string): string {
    return value;
  }
}
