import type { AuditActor } from '@app/contracts/tenancy.contracts';
import { userInfo } from 'node:os';

/**
 * Build the audit actor of an operator action taken from the CLI, which has no
 * login: `ops-cli (<name>)`, with the name from OPS_OPERATOR (for example the
 * operator's email) or else the operating system user running the command.
 */
export function cliActor(env: NodeJS.ProcessEnv = process.env): AuditActor {
  const named = env.OPS_OPERATOR?.trim();

  return { kind: 'system', id: null, label: `ops-cli (${named && named.length > 0 ? named : osUser()})` };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}
