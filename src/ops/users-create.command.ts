import { RequestContext } from '@app/common/context/request-context';
import { validationFailed } from '@app/common/errors/domain-error';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand, resolveTenant } from './ops-command';

interface UsersCreateOptions {
  tenant?: string;
  operator?: boolean;
  email: string;
  password?: string;
  role?: string;
}

@Command({
  name: 'users:create',
  description: 'Create a tenant user (--tenant and --role) or a platform operator (--operator)',
})
export class UsersCreateCommand extends OpsCommand<UsersCreateOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: UsersCreateOptions): Promise<void> {
    // Checked here rather than by Commander, whose message would not name the variable.
    const password = options.password;
    if (password === undefined) {
      throw validationFailed([{ field: 'password', message: 'is required; give --password or set OPS_PASSWORD' }]);
    }

    if (options.operator) {
      if (options.tenant !== undefined) {
        throw validationFailed([{ field: 'tenantId', message: 'must be absent with --operator' }]);
      }
      if (options.role !== undefined && options.role !== 'operator') {
        throw validationFailed([{ field: 'role', message: 'must be absent (or operator) with --operator' }]);
      }

      const user = await this.admin.createUser({ tenantId: null, email: options.email, password, role: 'operator' });
      console.log(`Created operator ${user.email} (user id ${user.id}).`);

      return;
    }

    if (options.tenant === undefined) {
      throw validationFailed([{ field: 'tenantId', message: 'is required unless --operator is given' }]);
    }
    if (options.role === undefined) {
      throw validationFailed([{ field: 'role', message: 'is required for a tenant user: owner, admin or staff' }]);
    }

    const tenant = await resolveTenant(options.tenant, this.admin);
    const user = await this.admin.createUser({
      tenantId: tenant.id,
      email: options.email,
      password,
      role: options.role as 'owner' | 'admin' | 'staff',
    });
    console.log(`Created ${user.role} ${user.email} in tenant ${tenant.slug} (user id ${user.id}).`);
  }

  @Option({ flags: '--tenant <slug|id>', description: 'the tenant, by slug or id (tenant users only)' })
  parseTenant(value: string): string {
    return value;
  }

  @Option({ flags: '--operator', description: 'create a platform operator instead of a tenant user' })
  parseOperator(): boolean {
    return true;
  }

  @Option({ flags: '--email <email>', description: 'login email; stored lower-cased', required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({
    flags: '--password <password>',
    description: '12 to 256 characters, not only spaces or invisible ones; may come from OPS_PASSWORD instead, which keeps it out of the process list',
    env: 'OPS_PASSWORD',
  })
  parsePassword(value: string): string {
    return value;
  }

  @Option({ flags: '--role <role>', description: 'owner, admin or staff (tenant users only)' })
  parseRole(value: string): string {
    return value;
  }
}
