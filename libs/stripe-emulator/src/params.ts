import { invalidRequest, parameterUnknown } from './errors';
import type { FormObject, FormValue } from './form-decoding';

/*
 * Parameter schemas for the endpoints the emulator serves. Validation turns a decoded form
 * into typed values and raises the 400 errors Stripe gives for unknown parameters, wrong
 * types and empty strings.
 */

export interface StringSpec<T extends string = string> {
  readonly kind: 'string';
  readonly values?: readonly T[];
  readonly maxLength?: number;
}
export interface IntegerSpec {
  readonly kind: 'integer';
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanSpec {
  readonly kind: 'boolean';
}
export interface ArraySpec<I extends ParamSpec = ParamSpec> {
  readonly kind: 'array';
  readonly items: I;
}
export interface ObjectSpec<P extends Properties = Properties> {
  readonly kind: 'object';
  readonly properties: P;
}
export interface MetadataSpec {
  readonly kind: 'metadata';
}
/** A parameter that may be sent as an empty string to unset it. The empty string becomes null. */
export interface EmptyableSpec<I extends ParamSpec = ParamSpec> {
  readonly kind: 'emptyable';
  readonly inner: I;
}

export type ParamSpec = StringSpec | IntegerSpec | BooleanSpec | ArraySpec | ObjectSpec | MetadataSpec | EmptyableSpec;
export type Properties = Readonly<Record<string, ParamSpec>>;

export type Infer<S> =
  S extends StringSpec<infer T>
    ? T
    : S extends IntegerSpec
      ? number
      : S extends BooleanSpec
        ? boolean
        : S extends ArraySpec<infer I>
          ? Infer<I>[]
          : S extends ObjectSpec<infer P>
            ? InferObject<P>
            : S extends MetadataSpec
              ? Record<string, string>
              : S extends EmptyableSpec<infer I>
                ? Infer<I> | null
                : never;
export type InferObject<P extends Properties> = { -readonly [K in keyof P]?: Infer<P[K]> };

export const param = {
  string: (options: { maxLength?: number } = {}): StringSpec => ({ kind: 'string', ...options }),
  oneOf: <const T extends string>(values: readonly T[]): StringSpec<T> => ({ kind: 'string', values }),
  integer: (options: { min?: number; max?: number } = {}): IntegerSpec => ({ kind: 'integer', ...options }),
  boolean: (): BooleanSpec => ({ kind: 'boolean' }),
  array: <I extends ParamSpec>(items: I): ArraySpec<I> => ({ kind: 'array', items }),
  object: <P extends Properties>(properties: P): ObjectSpec<P> => ({ kind: 'object', properties }),
  metadata: (): EmptyableSpec<MetadataSpec> => ({ kind: 'emptyable', inner: { kind: 'metadata' } }),
  emptyable: <I extends ParamSpec>(inner: I): EmptyableSpec<I> => ({ kind: 'emptyable', inner }),
};

/** `expand[]`, accepted by every endpoint. */
export const expandParam = param.array(param.string());

/** The pagination parameters of Stripe's list endpoints. */
export const listParams = {
  limit: param.integer({ min: 1, max: 100 }),
  starting_after: param.string(),
  ending_before: param.string(),
  expand: expandParam,
} as const;

// Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_LENGTH = 40;
const METADATA_MAX_VALUE_LENGTH = 500;

/** Validates a whole request against the endpoint's top-level parameters. */
export function parseParams<P extends Properties>(input: FormObject, properties: P): InferObject<P> {
  return parseObject(input, properties, null) as InferObject<P>;
}

function childPath(parent: string | null, key: string): string {
  return parent === null ? key : `${parent}[${key}]`;
}

function parseObject(input: FormObject, properties: Properties, path: string | null): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const spec = Object.hasOwn(properties, key) ? properties[key] : undefined;
    const keyPath = childPath(path, key);
    if (spec === undefined) {
      throw parameterUnknown(keyPath);
    }
    result[key] = parseValue(value, spec, keyPath);
  }
  return result;
}

function parseValue(value: FormValue, spec: ParamSpec, path: string): unknown {
  if (spec.kind === 'emptyable') {
    return value === '' ? null : parseValue(value, spec.inner, path);
  }
  if (value === '') {
    throw invalidRequest(
      `You passed an empty string for '${path}'. We assume empty values are an attempt to unset a parameter; ` +
        `however '${path}' cannot be unset. You should remove '${path}' from your request or supply a non-empty value.`,
      { code: 'parameter_invalid_empty', param: path },
    );
  }
  switch (spec.kind) {
    case 'string':
      return parseString(value, spec, path);
    case 'integer':
      return parseInteger(value, spec, path);
    case 'boolean':
      return parseBoolean(value, path);
    case 'array':
      return parseArray(value, spec, path);
    case 'object':
      if (typeof value === 'string') {
        throw invalidRequest('Invalid object', { param: path });
      }
      return parseObject(value, spec.properties, path);
    case 'metadata':
      return parseMetadata(value, path);
  }
}

function parseString(value: FormValue, spec: StringSpec, path: string): string {
  if (typeof value !== 'string') {
    throw invalidRequest(`Invalid string: ${JSON.stringify(value)}`, { param: path });
  }
  if (spec.values && !spec.values.includes(value)) {
    throw invalidRequest(`Invalid ${path}: must be one of ${joinWithOr(spec.values)}`, { param: path });
  }
  if (spec.maxLength !== undefined && value.length > spec.maxLength) {
    throw invalidRequest(`Invalid ${path}: must be at most ${spec.maxLength} characters`, { param: path });
  }
  return value;
}

function parseInteger(value: FormValue, spec: IntegerSpec, path: string): number {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw invalidRequest(`Invalid integer: ${typeof value === 'string' ? value : JSON.stringify(value)}`, {
      code: 'parameter_invalid_integer',
      param: path,
    });
  }
  const number = Number(value);
  if (spec.min !== undefined && number < spec.min) {
    throw invalidRequest(`This value must be greater than or equal to ${spec.min}.`, {
      code: 'parameter_invalid_integer',
      param: path,
    });
  }
  if (spec.max !== undefined && number > spec.max) {
    throw invalidRequest(`This value must be less than or equal to ${spec.max}.`, {
      code: 'parameter_invalid_integer',
      param: path,
    });
  }
  return number;
}

function parseBoolean(value: FormValue, path: string): boolean {
  if (value === 'true') {
    return true;
  }
  if (value === 'false') {
    return false;
  }
  throw invalidRequest(`Invalid boolean: ${typeof value === 'string' ? value : JSON.stringify(value)}`, {
    param: path,
  });
}

function parseArray(value: FormValue, spec: ArraySpec, path: string): unknown[] {
  if (typeof value === 'string') {
    throw invalidRequest('Invalid array', { param: path });
  }
  const indexes = Object.keys(value);
  if (!indexes.every((index) => /^\d+$/.test(index))) {
    throw invalidRequest('Invalid array', { param: path });
  }
  return indexes
    .map(Number)
    .sort((a, b) => a - b)
    .map((index) => parseValue(value[String(index)], spec.items, `${path}[${index}]`));
}

/**
 * Parses `metadata[key]=value` pairs. An empty value is kept as `''`, which updates read as
 * "delete this key".
 */
function parseMetadata(value: FormValue, path: string): Record<string, string> {
  if (typeof value === 'string') {
    throw invalidRequest('Invalid object', { param: path });
  }
  const entries = Object.entries(value);
  if (entries.length > METADATA_MAX_KEYS) {
    throw invalidRequest(`Invalid ${path}: you can specify up to ${METADATA_MAX_KEYS} keys.`, { param: path });
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of entries) {
    const entryPath = `${path}[${key}]`;
    if (typeof entry !== 'string') {
      throw invalidRequest(`Invalid value for ${entryPath}: metadata values must be strings.`, { param: entryPath });
    }
    if (key.length > METADATA_MAX_KEY_LENGTH) {
      throw invalidRequest(
        `Metadata keys can have up to ${METADATA_MAX_KEY_LENGTH} characters, but you passed in a key that is ${key.length} characters.`,
        { param: entryPath },
      );
    }
    if (entry.length > METADATA_MAX_VALUE_LENGTH) {
      throw invalidRequest(
        `Metadata values can have up to ${METADATA_MAX_VALUE_LENGTH} characters, but you passed in a value that is ${entry.length} characters.`,
        { param: entryPath },
      );
    }
    metadata[key] = entry;
  }
  return metadata;
}

function joinWithOr(values: readonly string[]): string {
  if (values.length <= 2) {
    return values.join(' or ');
  }
  return `${values.slice(0, -1).join(', ')}, or ${values[values.length - 1]}`;
}

/** Returns metadata for a new object: keys sent with empty values are dropped. */
export function initialMetadata(metadata: Record<string, string> | null | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value !== '') {
      result[key] = value;
    }
  }
  return result;
}

/**
 * Applies a metadata update as Stripe does: keys merge into the existing set, an empty value
 * deletes its key, and `metadata=` (null here) clears everything.
 */
export function mergeMetadata(
  current: Record<string, string>,
  update: Record<string, string> | null | undefined,
): Record<string, string> {
  if (update === undefined) {
    return current;
  }
  if (update === null) {
    return {};
  }
  const result = { ...current };
  for (const [key, value] of Object.entries(update)) {
    if (value === '') {
      delete result[key];
    } else {
      result[key] = value;
    }
  }
  return result;
}
