/*
 * Idempotency-Key support for the HTTP API (the contract's "Idempotency" rules).
 *
 * Usage:
 *   1. IdempotencyModule.forRoles(roles) is registered once in AppModule (global).
 *   2. Mark a tenant POST route with `@Idempotent()` (after `@Roles`, beside
 *      `@HttpCode`). The interceptor then scopes keys to (tenant, method, path)
 *      and replays the stored status and body for the same key and
 *      canonical-JSON body for 24 hours. It responds 409
 *      `idempotency_key_reused` to another body, and 409
 *      `idempotency_key_in_use` (with Retry-After) while the first still runs.
 *      Only 2xx, 402, 409 `invalid_state` and 422 `refund_exceeds_payment`
 *      are stored; anything else releases the key, so a retry runs again.
 *   3. Throw DomainError for business outcomes: the interceptor stores their
 *      problem details. Work that must not happen twice when a retry takes a
 *      released key over tags its records with
 *      `IdempotencyService.activeKey().id` and looks them up first when
 *      `activeKey().recovered` is true.
 */
export * from './canonical-json';
export * from './idempotency-key-header';
export * from './idempotency.interceptor';
export * from './idempotency.module';
export * from './idempotency.purger';
export * from './idempotency.service';
export * from './idempotent.decorator';
export * from './stored-outcome';
