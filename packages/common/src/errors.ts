/**
 * An error meant for the person running a command: its message is one line that says what is wrong and, where
 * possible, how to fix it. `runMain` prints it without a stack trace.
 */
export class UserFacingError extends Error {
  override name = "UserFacingError";
}

/** Node's system-error shape (`ECONNREFUSED` and friends), as thrown by `net`, mysql2 and ioredis. */
export function systemErrorCode(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    // mysql2 and undici wrap several attempts (IPv4 + IPv6) in an AggregateError
    if (e instanceof AggregateError) {
      for (const inner of e.errors) {
        const innerCode = systemErrorCode(inner);
        if (innerCode) return innerCode;
      }
    }
  }
  return undefined;
}
