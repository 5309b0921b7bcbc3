/**
 * Reduce a thrown value to its name and message for a log line, because a
 * stack or a driver's detail may quote query parameters. Duck-typed, so errors
 * from another realm (Node internals seen from a Jest sandbox) keep their message.
 */
export function describeError(error: unknown): { name: string; message: string } {
  if (typeof error === 'object' && error !== null && 'message' in error) {
    const { name, message } = error as { name?: unknown; message: unknown };

    return { name: typeof name === 'string' ? name : 'Error', message: String(message) };
  }

  return { name: typeof error, message: String(error) };
}
