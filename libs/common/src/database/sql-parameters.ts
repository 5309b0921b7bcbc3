/**
 * Values of a statement's `$n` placeholders, collected while its text is
 * composed from parts that different modules write (common table expressions
 * of one statement), so each part can add values without knowing the others'.
 */
export class SqlParameters {
  readonly values: unknown[] = [];

  /** Adds `value` and returns its placeholder, with `::cast` appended when a type is given. */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    const placeholder = `$${this.values.length}`;

    return cast ? `${placeholder}::${cast}` : placeholder;
  }
}
