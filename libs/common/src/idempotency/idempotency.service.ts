import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ClsService } from 'nestjs-cls';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { SqlParameters } from '../database/sql-parameters';
import { callCrossTenantFunction } from '../database/tenant-lookup';
import { isStoredOutcome } from './stored-outcome';

/** Stored responses are replayed for this long after they were stored (at least Stripe's 24 hours). */
export const IDEMPOTENCY_RETENTION_HOURS = 24;

/**
 * How long a running request keeps its key before another request with the
 * key may take it over. It must outlast the slowest request (two Stripe calls
 * of up to STRIPE_TIMEOUT_MS each, 20 s by default), because a takeover runs
 * the work again, although it finds what the first run created by the key's id.
 */
export const DEFAULT_IDEMPOTENCY_LEASE_SECONDS = 120;

/** The Retry-After of `idempotency_key_in_use`: most requests finish within it. */
export const IDEMPOTENCY_IN_USE_RETRY_AFTER_SECONDS = 2;

const ACTIVE_KEY = 'idempotency.activeKey';
const ACTIVE_CLAIM = 'idempotency.activeClaim';
const DEFERRED_CLAIM = 'idempotency.deferredClaim';
const STORED_RESPONSE_JSON = 'idempotency.storedResponseJson';
const MAX_CLAIM_ROUNDS = 3;

/** The scope of a key: the contract scopes keys to tenant, method and path. */
export interface IdempotencyScope {
  tenantId: string;
  method: string;
  path: string;
  key: string;
}

/** The key the current request runs under, for services that resume work an earlier attempt began. */
export interface ActiveIdempotencyKey {
  /** Stable across retries with the same body, so records tagged with it are found again. */
  id: string;
  /** 1 for the first request, higher when a retry took over a released or abandoned key. */
  attempt: number;
  /** Whether an earlier request with this key and body ran without storing a response. */
  recovered: boolean;
}

export interface ClaimedKey {
  kind: 'claimed';
  key: ActiveIdempotencyKey;
  leaseToken: string;
}

export type IdempotencyClaim =
  | ClaimedKey
  | { kind: 'replay'; status: number; body: unknown }
  | InUseKey
  | { kind: 'reused' };

/** A key that another request has claimed and not finished. */
export interface InUseKey {
  kind: 'in_use';
  /** Seconds until its lease ends and another request may take the key over, when known. */
  leaseSecondsLeft?: number;
}

/** The outcome a key's stored row allows, read without claiming it. */
export type IdempotencyCheck = Exclude<IdempotencyClaim, ClaimedKey> | { kind: 'claimable' };

/** A key the interceptor checked and left for the handler to claim in its own first transaction. */
export interface DeferredClaim {
  scope: IdempotencyScope;
  requestHash: string;
  leaseSeconds: number;
  /** The response status the route sends on success. */
  status: number;
}

/** The claimed key of the current request, with the status of the route's success response. */
interface ActiveClaim {
  claim: ClaimedKey;
  status: number;
}

/**
 * Thrown by `claimWithin` when another request claimed the key after the
 * interceptor found it free. The caller's transaction rolls back, so the
 * request has written nothing, and the interceptor responds from the key's row.
 */
export class IdempotencyClaimLostError extends Error {
  constructor() {
    super('Another request claimed the Idempotency-Key after it was checked');
    this.name = 'IdempotencyClaimLostError';
  }
}

export interface ClaimedRow {
  id: string;
  attempt: number;
}

/**
 * The claim of the current request's deferred key as part of the caller's own
 * statement. It claims only a key that has no row yet, so the first attempt
 * of a request costs no statement of its own. A key with a row is left to
 * `claimWithin`, which decides whether it can be taken over.
 */
export interface NewKeyClaim {
  /** The body of a common table expression: an INSERT … ON CONFLICT DO NOTHING that returns the row's `id` and `attempt`. */
  sql: string;
  /** Makes the claim the current request's, after the caller's statement returned `row` and committed. */
  activate(row: ClaimedRow): ActiveIdempotencyKey;
}

/** The store of the current request's response as part of the caller's own statement. */
export interface ResponseStore {
  /** The body of a common table expression, an UPDATE that returns the key's `id` when it stored the response. */
  sql: string;
  /** Records the outcome once the caller's statement committed. `stored` is true when the expression returned a row. */
  finish(body: unknown, stored: boolean): void;
}

interface ExistingRow {
  request_hash: string;
  status: 'running' | 'done';
  response_status: number | null;
  response_body: unknown;
  lease_live: boolean;
  lease_seconds_left: number | null;
  expired: boolean;
}

/**
 * Stores Idempotency-Key records in PostgreSQL (table `idempotency_keys`) and
 * decides what a request with a key does: run (claimed), replay the stored
 * response, or get 409 because the key is in use or was used with another
 * body. Claiming is one INSERT … ON CONFLICT statement, so however many
 * requests with one key arrive at once, exactly one runs.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly cls: ClsService,
  ) {}

  /**
   * Claims a key for a request whose body hashes to `requestHash`. A new key,
   * an expired one, and one whose lease ran out (released by an earlier
   * attempt, or left by a crashed process) are claimed. The id is kept when
   * the earlier attempt had the same body, and replaced otherwise.
   */
  async claim(scope: IdempotencyScope, requestHash: string, leaseSeconds = DEFAULT_IDEMPOTENCY_LEASE_SECONDS): Promise<IdempotencyClaim> {
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const leaseToken = randomUUID();
      const claimed = await this.tryClaim(scope, requestHash, leaseToken, leaseSeconds);
      if (claimed) {
        return { kind: 'claimed', leaseToken, key: { id: claimed.id, attempt: claimed.attempt, recovered: claimed.attempt > 1 } };
      }

      const checked = classify(await this.findExisting(scope), requestHash);
      if (checked.kind === 'claimable') {
        // Purged, expired or released between the two statements: claim again.
        continue;
      }

      return checked;
    }

    throw new Error(`Idempotency key of ${scope.method} ${scope.path} could not be claimed in ${MAX_CLAIM_ROUNDS} rounds`);
  }

  /** Reads what a key's row allows a request whose body hashes to `requestHash`, without claiming or changing it. */
  async check(scope: IdempotencyScope, requestHash: string): Promise<IdempotencyCheck> {
    return classify(await this.findExisting(scope), requestHash);
  }

  /**
   * Leaves the claim of a checked key to the handler, which calls
   * `claimWithin` in the transaction of its first write, so the claim and
   * that write commit together.
   */
  defer(claim: DeferredClaim): void {
    if (this.cls.isActive()) {
      this.cls.set(DEFERRED_CLAIM, claim);
    }
  }

  /**
   * Claims the deferred key of the current request inside the caller's
   * transaction and returns it as `activeKey()` will. Returns the key the
   * interceptor claimed already when it did not defer, and undefined for a
   * request without a key. Throws IdempotencyClaimLostError when another
   * request claimed the key after the check. The claim counts only if the
   * caller's transaction commits; on a rollback the key row is as before.
   */
  async claimWithin(manager: EntityManager): Promise<ActiveIdempotencyKey | undefined> {
    const active = this.activeKey();
    const deferred = this.cls.isActive() ? this.cls.get<DeferredClaim | undefined>(DEFERRED_CLAIM) : undefined;
    if (active || !deferred) {
      return active;
    }

    const leaseToken = randomUUID();
    const claimed = await this.tryClaim(deferred.scope, deferred.requestHash, leaseToken, deferred.leaseSeconds, manager);
    if (!claimed) {
      throw new IdempotencyClaimLostError();
    }

    const key = { id: claimed.id, attempt: claimed.attempt, recovered: claimed.attempt > 1 };
    this.activateClaim({ kind: 'claimed', key, leaseToken }, deferred.status);

    return key;
  }

  /**
   * Writes the claim of the current request's deferred key into the caller's
   * statement, for a handler that makes its first write in one statement.
   * Returns undefined when the request sent no key or has claimed it already.
   * When the expression returns no row the key has a row, the statement
   * should write nothing, and the handler goes on with `claimWithin`.
   */
  newKeyClaim(parameters: SqlParameters): NewKeyClaim | undefined {
    const deferred = this.cls.isActive() ? this.cls.get<DeferredClaim | undefined>(DEFERRED_CLAIM) : undefined;
    if (!deferred || this.activeKey()) {
      return undefined;
    }

    const leaseToken = randomUUID();
    const { scope } = deferred;
    const sql = `INSERT INTO idempotency_keys
              (tenant_id, method, path, key, request_hash, status, lease_token, locked_until, expires_at)
       VALUES (${parameters.add(scope.tenantId, 'uuid')}, ${parameters.add(scope.method, 'text')}, ${parameters.add(scope.path, 'text')},
               ${parameters.add(scope.key, 'text')}, ${parameters.add(deferred.requestHash, 'text')}, 'running', ${parameters.add(leaseToken, 'uuid')},
               now() + make_interval(secs => ${parameters.add(deferred.leaseSeconds, 'int')}),
               now() + make_interval(hours => ${parameters.add(IDEMPOTENCY_RETENTION_HOURS, 'int')}))
       ON CONFLICT (tenant_id, method, path, key) DO NOTHING
       RETURNING id, attempt`;

    return {
      sql,
      activate: (row) => {
        const key = { id: row.id, attempt: row.attempt, recovered: row.attempt > 1 };
        this.activateClaim({ kind: 'claimed', key, leaseToken }, deferred.status);

        return key;
      },
    };
  }

  /**
   * Writes the store of the current request's response into the caller's
   * statement, so it commits with the work it reports, as `storeResponseWithin`
   * does. `writeBody` writes the SQL expression of the body as jsonb, and the
   * store joins `onlyIfRowsIn`, an earlier expression of the statement, so it
   * happens only when that returns a row. Returns undefined, and writes
   * nothing, without a claimed key or when the route's success status is not
   * stored.
   */
  responseStore(parameters: SqlParameters, writeBody: () => string, onlyIfRowsIn: string): ResponseStore | undefined {
    const active = this.cls.isActive() ? this.cls.get<ActiveClaim | undefined>(ACTIVE_CLAIM) : undefined;
    if (!active || !isStoredOutcome(active.status, undefined)) {
      return undefined;
    }

    const sql = `UPDATE idempotency_keys
          SET status = 'done', response_status = ${parameters.add(active.status, 'int')}, response_body = ${writeBody()}, completed_at = now(),
              expires_at = now() + make_interval(hours => ${parameters.add(IDEMPOTENCY_RETENTION_HOURS, 'int')}), lease_token = NULL, locked_until = NULL
         FROM (SELECT 1 FROM ${onlyIfRowsIn} LIMIT 1) AS store_condition
        WHERE idempotency_keys.id = ${parameters.add(active.claim.key.id, 'uuid')}
          AND idempotency_keys.lease_token = ${parameters.add(active.claim.leaseToken, 'uuid')}
          AND idempotency_keys.status = 'running'
       RETURNING idempotency_keys.id`;

    return {
      sql,
      finish: (body, stored) => {
        if (!stored) {
          this.logger.warn({ idempotencyKeyId: active.claim.key.id, status: active.status }, 'Idempotency key was taken over before its response was stored');

          return;
        }
        this.cls.set(STORED_RESPONSE_JSON, body === undefined ? null : JSON.stringify(body));
      },
    };
  }

  /**
   * Stores `body` as the response of the current request's key inside the
   * caller's transaction, so it commits with the work it reports. The
   * interceptor then skips its own store when the handler returns the same
   * body. Does nothing without a claimed key or when the route's success
   * status is not stored.
   */
  async storeResponseWithin(manager: EntityManager, body: unknown): Promise<void> {
    const active = this.cls.isActive() ? this.cls.get<ActiveClaim | undefined>(ACTIVE_CLAIM) : undefined;
    if (!active || !isStoredOutcome(active.status, undefined)) {
      return;
    }

    const json = body === undefined ? null : JSON.stringify(body);
    const stored = await this.storeResponse(manager, active.claim, active.status, json);
    if (stored) {
      this.cls.set(STORED_RESPONSE_JSON, json);
    }
  }

  /**
   * Checks whether `body` is the response `storeResponseWithin` stored for
   * the current request. Checked after the handler returned, so the transaction
   * that stored it committed.
   */
  storedWithin(body: unknown): boolean {
    if (!this.cls.isActive()) {
      return false;
    }
    const json = this.cls.get<string | null | undefined>(STORED_RESPONSE_JSON);

    return json !== undefined && json === (body === undefined ? null : JSON.stringify(body));
  }

  /** Returns the key the current request claimed, by the interceptor or by `claimWithin`. */
  activeClaim(): ClaimedKey | undefined {
    return this.cls.isActive() ? this.cls.get<ActiveClaim | undefined>(ACTIVE_CLAIM)?.claim : undefined;
  }

  /**
   * Ends a claimed request: stores the response when it is an outcome of the
   * operation (see `isStoredOutcome`), else releases the key so a retry runs
   * again. Returns which it did. A lease another request took over meanwhile
   * is left alone.
   */
  async complete(claim: ClaimedKey, status: number, body: unknown, code?: string): Promise<'stored' | 'released'> {
    if (!isStoredOutcome(status, code)) {
      await this.release(claim);

      return 'released';
    }

    const json = body === undefined ? null : JSON.stringify(body);
    await this.storeResponse(this.dataSource.manager, claim, status, json);

    return 'stored';
  }

  /** Releases a claimed key: its lease ends now, so the next request with it runs (keeping the id when its body is the same). */
  async release(claim: ClaimedKey): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET lease_token = NULL, locked_until = now()
        WHERE id = $1 AND lease_token = $2 AND status = 'running'`,
      [claim.key.id, claim.leaseToken],
    );
  }

  /** Makes the claimed key visible to the services of the current request through `activeKey()`. */
  activate(key: ActiveIdempotencyKey): void {
    if (this.cls.isActive()) {
      this.cls.set(ACTIVE_KEY, key);
    }
  }

  /** Makes a claim the current request's, for `activeKey()` and `storeResponseWithin`. `status` is the route's success status. */
  activateClaim(claim: ClaimedKey, status: number): void {
    this.activate(claim.key);
    if (this.cls.isActive()) {
      this.cls.set(ACTIVE_CLAIM, { claim, status } satisfies ActiveClaim);
    }
  }

  /** Returns the key the current request runs under, or undefined when it sent none. */
  activeKey(): ActiveIdempotencyKey | undefined {
    return this.cls.isActive() ? this.cls.get<ActiveIdempotencyKey | undefined>(ACTIVE_KEY) : undefined;
  }

  /** Deletes up to `limit` expired keys, oldest first; returns how many went. */
  async purgeExpired(limit: number): Promise<number> {
    const [row] = await callCrossTenantFunction<{ result: number }>(this.dataSource, 'app_purge_expired_idempotency_keys', [limit]);

    return row.result;
  }

  /** Marks a running key done with its response. Returns false when another request took the lease over meanwhile. */
  private async storeResponse(manager: EntityManager, claim: ClaimedKey, status: number, json: string | null): Promise<boolean> {
    const result: [unknown[], number] = await manager.query(
      `UPDATE idempotency_keys
          SET status = 'done', response_status = $3, response_body = $4::jsonb, completed_at = now(),
              expires_at = now() + make_interval(hours => $5), lease_token = NULL, locked_until = NULL
        WHERE id = $1 AND lease_token = $2 AND status = 'running'`,
      [claim.key.id, claim.leaseToken, status, json, IDEMPOTENCY_RETENTION_HOURS],
    );
    if (result[1] === 0) {
      this.logger.warn({ idempotencyKeyId: claim.key.id, status }, 'Idempotency key was taken over before its response was stored');

      return false;
    }

    return true;
  }

  private async tryClaim(
    scope: IdempotencyScope,
    requestHash: string,
    leaseToken: string,
    leaseSeconds: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ClaimedRow | null> {
    // A row is taken over when it expired, or when it is running with its lease
    // run out. The id and attempt count carry over only for the same body on an
    // unexpired row, since only then is the earlier attempt's work this request's.
    const rows: ClaimedRow[] = await manager.query(
      `INSERT INTO idempotency_keys
              (tenant_id, method, path, key, request_hash, status, lease_token, locked_until, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'running', $6, now() + make_interval(secs => $7), now() + make_interval(hours => $8))
       ON CONFLICT (tenant_id, method, path, key) DO UPDATE
          SET id = CASE WHEN idempotency_keys.expires_at > now() AND idempotency_keys.request_hash = EXCLUDED.request_hash
                        THEN idempotency_keys.id ELSE gen_random_uuid() END,
              attempt = CASE WHEN idempotency_keys.expires_at > now() AND idempotency_keys.request_hash = EXCLUDED.request_hash
                             THEN idempotency_keys.attempt + 1 ELSE 1 END,
              request_hash = EXCLUDED.request_hash,
              status = 'running',
              lease_token = EXCLUDED.lease_token,
              locked_until = EXCLUDED.locked_until,
              expires_at = EXCLUDED.expires_at,
              response_status = NULL,
              response_body = NULL,
              completed_at = NULL,
              created_at = now()
        WHERE idempotency_keys.expires_at <= now()
           OR (idempotency_keys.status = 'running' AND idempotency_keys.locked_until <= now())
       RETURNING id, attempt`,
      [scope.tenantId, scope.method, scope.path, scope.key, requestHash, leaseToken, leaseSeconds, IDEMPOTENCY_RETENTION_HOURS],
    );

    return rows[0] ?? null;
  }

  private async findExisting(scope: IdempotencyScope): Promise<ExistingRow | null> {
    const rows: ExistingRow[] = await this.dataSource.query(
      `SELECT request_hash, status, response_status, response_body,
              (locked_until IS NOT NULL AND locked_until > now()) AS lease_live,
              ceil(extract(epoch FROM locked_until - now()))::int AS lease_seconds_left,
              (expires_at <= now()) AS expired
         FROM idempotency_keys
        WHERE tenant_id = $1 AND method = $2 AND path = $3 AND key = $4`,
      [scope.tenantId, scope.method, scope.path, scope.key],
    );

    return rows[0] ?? null;
  }
}

/** Decides from a key's row (null when there is none) what a request whose body hashes to `requestHash` may do. */
function classify(existing: ExistingRow | null, requestHash: string): IdempotencyCheck {
  if (!existing || existing.expired || (existing.status === 'running' && !existing.lease_live)) {
    return { kind: 'claimable' };
  }
  if (existing.request_hash !== requestHash) {
    return { kind: 'reused' };
  }
  if (existing.status === 'running') {
    return { kind: 'in_use', leaseSecondsLeft: existing.lease_seconds_left ?? undefined };
  }

  return { kind: 'replay', status: existing.response_status ?? 200, body: existing.response_body };
}
