import type { Context } from "hono";

/**
 * Sets (or appends) a header on the finished response in place. `c.header()` would copy the response to do it, and
 * @hono/node-server streams such a copy to the socket in chunks instead of writing it at once. A response whose
 * headers are immutable is copied after all.
 */
export function setResponseHeader(c: Context, name: string, value: string, options?: { append: boolean }): void {
  try {
    if (options?.append) c.res.headers.append(name, value);
    else c.res.headers.set(name, value);
  } catch {
    c.header(name, value, options);
  }
}
