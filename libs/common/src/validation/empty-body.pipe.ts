import { Injectable, PipeTransform } from '@nestjs/common';
import { validationFailed } from '../errors/domain-error';

/**
 * The body of an action route that takes none (`@Body(EmptyBodyPipe)`). No body, or an empty
 * JSON object or array, passes. Any field is unknown, and the contract makes an unknown field a
 * validation error, so the request gets 400 instead of running with its body ignored.
 */
@Injectable()
export class EmptyBodyPipe implements PipeTransform<unknown, undefined> {
  transform(value: unknown): undefined {
    // NOTE: A body that is not JSON (text/plain, say) reaches this pipe unparsed and is ignored, as on every route that takes none.
    if (Array.isArray(value) && value.length > 0) {
      throw validationFailed([{ field: 'body', message: 'must be empty: this action takes no body' }], 'This action takes no request body.');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
      return undefined;
    }

    const fields = Object.keys(value);
    if (fields.length > 0) {
      throw validationFailed(
        fields.map((field) => ({ field, message: 'is not a field of this action, which takes no body' })),
        'This action takes no request body.',
      );
    }

    return undefined;
  }
}
