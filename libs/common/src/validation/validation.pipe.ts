import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import type { ValidatorOptions } from 'class-validator';
import { FieldError, validationFailed } from '../errors/domain-error';

/**
 * class-validator's type checks. When one of them fails, the field's other
 * constraints (length, range, format) report on a value of the wrong type and
 * only add noise, so the type message is reported alone.
 */
const TYPE_CONSTRAINTS = new Set(['isString', 'isNumber', 'isInt', 'isBoolean', 'isArray', 'isObject']);
const NUMBER_CONSTRAINTS = new Set(['isNumber', 'isInt']);
/** class-validator's constraint for a property the DTO does not declare, under `forbidNonWhitelisted`. */
const UNKNOWN_PROPERTY_CONSTRAINT = 'whitelistValidation';

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
    // fieldMessage reads the values to tell a missing field from a wrong one. No value is sent in the response.
    validationError: { target: false, value: true },
    exceptionFactory: (errors: ValidationError[]) => validationFailed(flattenValidationErrors(errors)),
  });
}

/**
 * A DTO whose fields are valid only together, such as an amount within the
 * minimum charge of its currency. The pipe adds these errors to the ones of
 * the decorators, so one response names every invalid field.
 */
export interface ValidatesFieldsTogether {
  /** Returns the errors of fields checked together, by dotted path. Runs on any body, so it must not trust a field's type. */
  crossFieldErrors(): FieldError[];
}

function validatesFieldsTogether(value: object): value is ValidatesFieldsTogether {
  return typeof (value as Partial<ValidatesFieldsTogether>).crossFieldErrors === 'function';
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

  /** Adds the DTO's cross-field errors of the fields its decorators accepted, since a field gets one message. */
  protected override async validate(object: object, validatorOptions?: ValidatorOptions): Promise<ValidationError[]> {
    const errors = await super.validate(object, validatorOptions);
    if (!validatesFieldsTogether(object)) {
      return errors;
    }

    const reported = new Set(errors.map((error) => error.property));
    const together = object
      .crossFieldErrors()
      .filter(({ field }) => !reported.has(field.split('.')[0]))
      .map(({ field, message }): ValidationError => ({ property: field, constraints: { fieldsTogether: message }, children: [] }));

    return [...errors, ...together];
  }
}

/**
 * Turn class-validator's error tree into one error per field, named by its
 * dotted path. A field whose type is wrong gets no errors for its children,
 * which would only describe how the wrong value failed to be the right one.
 */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  const result: FieldError[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const message = fieldMessage(error);
    if (message !== null) {
      result.push({ field, message });
    }
    if (!hasTypeFailure(error) && error.children && error.children.length > 0) {
      result.push(...flattenValidationErrors(error.children, field));
    }
  }

  return result;
}

/**
 * Join the field's failed constraints into one message. A missing field reads
 * "is required: <what to send>", because a type error would mislead a client
 * that sent no value at all.
 */
function fieldMessage(error: ValidationError): string | null {
  const constraints = Object.entries(error.constraints ?? {});
  if (constraints.length === 0) {
    return null;
  }

  if (constraints.some(([name]) => name === UNKNOWN_PROPERTY_CONSTRAINT)) {
    // class-validator's own wording ("property tip should not exist") repeats the name and gives no next step.
    return 'is unknown: remove it or check its spelling';
  }

  const typeFailures = constraints.filter(([name]) => TYPE_CONSTRAINTS.has(name));
  const reported = typeFailures.length > 0 ? typeFailures : constraints;
  const messages = [...new Set(reported.map(([, message]) => inApiWording(withoutPropertyName(message, error.property))))];
  const message = messages.join(' and ');

  if (isMissing(error)) {
    return message.startsWith('must be ') ? `is required: ${message.slice('must be '.length)}` : `is required and ${message}`;
  }

  const numberExpected = typeFailures.some(([name]) => NUMBER_CONSTRAINTS.has(name));
  if (numberExpected && typeof error.value === 'string') {
    return `${message}, sent as a JSON number rather than a string`;
  }

  return message;
}

/**
 * Tell whether the client sent no value for the field. Errors that Nest or
 * class-validator build without a value (a stand-in for a non-object, an
 * unknown value) are not about a missing field.
 */
function isMissing(error: ValidationError): boolean {
  return Object.prototype.hasOwnProperty.call(error, 'value') && error.value === undefined && typeof error.property === 'string';
}

function hasTypeFailure(error: ValidationError): boolean {
  return Object.keys(error.constraints ?? {}).some((name) => TYPE_CONSTRAINTS.has(name));
}

/**
 * class-validator's default bounds read "must be shorter than or equal to 5
 * characters" and "must not be less than 1", where the rest of the API and
 * the CLI use "must be at most 5 characters long" and "must be at least 1".
 */
const API_WORDING: [RegExp, string][] = [
  [/^must be shorter than or equal to (\d+) characters$/, 'must be at most $1 characters long'],
  [/^must be longer than or equal to (\d+) characters$/, 'must be at least $1 characters long'],
  [/^must not be less than (-?[\d.]+)$/, 'must be at least $1'],
  [/^must not be greater than (-?[\d.]+)$/, 'must be at most $1'],
];

function inApiWording(message: string): string {
  for (const [pattern, wording] of API_WORDING) {
    if (pattern.test(message)) {
      return message.replace(pattern, wording);
    }
  }

  return message;
}

/** class-validator starts its default messages with the property name, which the `field` already gives. */
function withoutPropertyName(message: string, property: string): string {
  return message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}
