import { RequestContext } from '@app/common/context/request-context';
import { TENANCY_ADMIN, TenancyAdmin } from '@app/contracts/tenancy.contracts';
import { Inject } from '@nestjs/common';
import { Command, Option } from 'nest-commander';
import { OpsCommand } from './ops-command';

interface SessionsRevokeOptions {
  email: string;
  operator?: boolean;
}

@Command({ name: 'sessions:revoke', description: "End every live browser session of a user; the user's next request with the cookie gets 401" })
export class SessionsRevokeCommand extends OpsCommand<SessionsRevokeOptions> {
  constructor(
    context: RequestContext,
    @Inject(TENANCY_ADMIN) private readonly admin: TenancyAdmin,
  ) {
    super(context);
  }

  protected async execute(options: SessionsRevokeOptions): Promise<void> {
    const { revoked } = await this.admin.revokeSessions({ email: options.email, operator: options.operator ?? false });

    console.log(`Revoked ${revoked} live session(s) of ${options.email.trim()}.`);
  }

  @Option({ flags: '--email <email>', description: "the user's email address", required: true })
  parseEmail(value: string): string {
    return value;
  }

  @Option({ flags: '--operator', description: 'the user is a platform operator, not a tenant user' })
  parseOperator(): boolean {
    return true;
  }
}
