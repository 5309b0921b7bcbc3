import { RequestContext } from '@app/common/context/request-context';
import { Clock } from '@app/common/time/clock';
import { Principal, Role } from '@app/common/roles/roles';
import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { ApiTokensRepository } from './api-tokens.repository';
import { LoginRateLimiter } from './login-rate-limiter';
import { hashPassword, passwordNeedsRehash, verifyPassword } from './passwords';
import { generateSessionId, hashSecretToken } from './secret-tokens';
import { SessionsRepository } from './sessions.repository';
import { normalizeEmail } from './tenant-validation';
import { TenantsRepository } from './tenants.repository';
import { invalidCredentials } from './tenancy.errors';
import { UsersRepository } from './users.repository';

/** Sessions last 12 hours from login, whatever the activity (a fixed lifetime, not a sliding one). */
export const SESSION_LIFETIME_SECONDS = 12 * 60 * 60;

export interface LoginInput {
  /** Tenant slug; absent for a platform operator. */
  tenant?: string;
  email: string;
  password: string;
}

export interface MeBody {
  via: 'session' | 'token';
  user: { id: string; email: string } | null;
  tenant: { id: string; slug: string; name: string } | null;
  role: Role;
}

export interface LoginResult {
  /** The session cookie's value. It is never stored, because the session row contains only its SHA-256 digest. */
  sessionId: string;
  expiresAt: Date;
  me: MeBody;
}

/** Logins, sessions and API tokens turned into principals. */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  private dummyPasswordHash: Promise<string> | null = null;

  constructor(
    private readonly users: UsersRepository,
    private readonly tenants: TenantsRepository,
    private readonly tokens: ApiTokensRepository,
    private readonly sessions: SessionsRepository,
    private readonly rateLimiter: LoginRateLimiter,
    private readonly clock: Clock,
    private readonly context: RequestContext,
  ) {}

  /** Log in; `clientIp` is the caller's address, for the per-address failure limit. */
  async login(input: LoginInput, clientIp: string): Promise<LoginResult> {
    const email = normalizeEmail(input.email);
    const tenantSlug = input.tenant?.trim();
    const accountKey = `${tenantSlug ?? ''}:${email}`;
    await this.rateLimiter.assertAllowed(accountKey, clientIp);

    const principal = await this.checkCredentials(tenantSlug, email, input.password);
    if (!principal) {
      await this.rateLimiter.recordFailure(accountKey, clientIp);
      this.logger.warn({ tenantSlug: tenantSlug ?? null }, 'Login failed');
      throw invalidCredentials();
    }
    await this.rateLimiter.clear(accountKey);

    const now = this.clock.now();
    const sessionId = generateSessionId();
    const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_SECONDS * 1000);
    const tokenHash = hashSecretToken(sessionId);
    const sessionRowId = principal.tenantId === null
      ? await this.sessions.startOperatorSession({ tokenHash, userId: principal.id, expiresAt }, now)
      : await this.inTenantOf(principal.tenantId, () => this.startTenantSession(principal, tokenHash, expiresAt, now));
    this.logger.log({ tenantId: principal.tenantId, userId: principal.id, sessionId: sessionRowId }, 'Session started');

    // The request has no principal yet, so the tenant row of the me body is read in the tenant's scope.
    const described = { ...principal, sessionId: sessionRowId };
    const me = principal.tenantId === null ? await this.describe(described) : await this.inTenantOf(principal.tenantId, () => this.describe(described));

    return { sessionId, expiresAt, me };
  }

  async logout(principal: Principal): Promise<void> {
    if (!principal.sessionId) {
      return;
    }

    const sessionId = principal.sessionId;
    if (principal.tenantId === null) {
      await this.sessions.endOperatorSession(sessionId, this.clock.now());
    } else {
      await this.inTenantOf(principal.tenantId, () => this.sessions.revoke(sessionId, this.clock.now()));
    }
    this.logger.log({ tenantId: principal.tenantId, userId: principal.userId, sessionId: principal.sessionId }, 'Session ended');
  }

  /** Returns the principal of an unrevoked API token, or null. */
  async authenticateToken(token: string): Promise<Principal | null> {
    const row = await this.tokens.authenticate(hashSecretToken(token), this.clock.now());
    if (!row) {
      return null;
    }

    return { kind: 'token', id: row.id, label: row.label, role: row.role, tenantId: row.tenantId, userId: null, via: 'token' };
  }

  /** Returns the principal of a live session cookie, or null when it is unknown, expired or ended. */
  async authenticateSession(sessionId: string): Promise<Principal | null> {
    const session = await this.sessions.findActiveByHash(hashSecretToken(sessionId), this.clock.now());
    if (!session) {
      return null;
    }

    return {
      kind: session.role === 'operator' ? 'operator' : 'user',
      id: session.userId,
      label: session.email,
      role: session.role,
      tenantId: session.tenantId,
      userId: session.userId,
      via: 'session',
      sessionId: session.id,
    };
  }

  async describe(principal: Principal): Promise<MeBody> {
    const tenant = principal.tenantId ? await this.tenants.findById(principal.tenantId) : null;

    return {
      via: principal.via,
      user: principal.userId ? { id: principal.userId, email: principal.label } : null,
      tenant: tenant ? { id: tenant.id, slug: tenant.slug, name: tenant.name } : null,
      role: principal.role,
    };
  }

  /**
   * Returns the principal for these credentials, or null. The password is
   * verified even when the tenant or user is missing or the user is not a
   * member, against a throwaway hash, so the response takes as long whichever
   * part is wrong.
   */
  private async checkCredentials(tenantSlug: string | undefined, email: string, password: string): Promise<Principal | null> {
    const user = tenantSlug === undefined ? await this.users.findOperatorLogin(email) : await this.users.findTenantLogin(tenantSlug, email);
    const passwordMatches = await verifyPassword(user?.passwordHash ?? (await this.dummyHash()), password);

    if (!user || !passwordMatches) {
      return null;
    }

    if (passwordNeedsRehash(user.passwordHash)) {
      if (await this.users.replacePasswordHash(user.userId, user.passwordHash, await hashPassword(password))) {
        this.logger.log({ userId: user.userId }, 'Password hash upgraded to the current argon2id parameters');
      }
    }

    // Only an operator login returns a user without a tenant.
    if (user.tenantId === null || user.role === null) {
      return { kind: 'operator', id: user.userId, label: user.email, role: 'operator', tenantId: null, userId: user.userId, via: 'session' };
    }

    return { kind: 'user', id: user.userId, label: user.email, role: user.role, tenantId: user.tenantId, userId: user.userId, via: 'session' };
  }

  /** Writes a tenant user's session row, and deletes that user's long-ended ones, in the session's tenant. */
  private async startTenantSession(principal: Principal, tokenHash: string, expiresAt: Date, now: Date): Promise<string> {
    const started = await this.sessions.insert({ tokenHash, userId: principal.id, tenantId: principal.tenantId, role: principal.role, expiresAt });
    await this.sessions.deleteEndedForUser(principal.id, now);

    return started.id;
  }

  /** Runs `work` in the tenant of a login or logout, which runs before the guard has set a principal. */
  private inTenantOf<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
    return this.context.runAsTenant(tenantId, work, this.context.correlationId);
  }

  private dummyHash(): Promise<string> {
    this.dummyPasswordHash ??= hashPassword(randomBytes(32).toString('base64url'));

    return this.dummyPasswordHash;
  }
}
