import { SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { IDEMPOTENT_OPTIONS, IdempotencyInterceptor, IdempotentOptions } from './idempotency.interceptor';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency-key-header';

/**
 * Marks a tenant route as accepting the Idempotency-Key header. The same key
 * and body replay the first stored response. Another body gets 409
 * `idempotency_key_reused`, and a request arriving while the first still runs
 * gets 409 `idempotency_key_in_use` with Retry-After.
 */
export function Idempotent(options: IdempotentOptions = {}): MethodDecorator {
  return applyDecorators(
    SetMetadata(IDEMPOTENT_OPTIONS, options),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        `1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters. Scoped to tenant, method and path; the same key and body ` +
        'return the first response again for 24 hours.',
    }),
  );
}
