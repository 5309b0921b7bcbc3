const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a path id can be a row id at all; a malformed one answers 404 like a missing one. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
