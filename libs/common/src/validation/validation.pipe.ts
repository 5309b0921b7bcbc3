import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, validationFailed } from '../errors/domain-error';

/**
 * class-validator's type checks. When one of them fails, the field's other
 * constraints (length, range, format) report on a value of the wrong type and
 * only add noise, so the type message is reported alone.
 */
const TYPE_CONSTRAINTS = new Set(['isString', 'isNumber', 'isInt', 'isBoolean', 'isArray', 'isObject']);

/**
 * The contract rejects unknown body fields and reports each invalid field by
 * its dotted path, so every DTO goes through this pipe.
 */
export function createValidationPipe(): ValidationPipe {
  return new BodyValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    validateCustomDecorators: false,
    exceptionFactory: (errors: ValidationError[]) => validationFailed(flattenValidationErrors(errors)),
  });
}

/**
 * Rejects a body that is not a JSON object before class-validator validates it,
 * because class-validator would report an array's indexes as unknown properties
 * ("property 0 should not exist") and every required field as missing.
 */
class BodyValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const expectsObject = metadata.type === 'body' && metadata.metatype !== undefined && this.toValidate(metadata);
    if (expectsObject && value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw validationFailed([{ field: 'body', message: 'must be a JSON object' }], 'The request body is not a JSON object.');
    }

    return super.transform(value, metadata);
  }
}

export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const result: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of constraintMessages(error)) {
      result.push({ field, message: message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message });
    }
    if (error.children && error.children.length > 0) {
      result.push(...flattenValidationErrors(error.children, field));
    }
  }

  return result;
}

function constraintMessages(error: ValidationError): string[] {
  const constraints = Object.entries(error.constraints ?? {});
  const typeFailures = constraints.filter(([name]) => TYPE_CONSTRAINTS.has(name));

  return (typeFailures.length > 0 ? typeFailures : constraints).map(([, message]) => message);
}
