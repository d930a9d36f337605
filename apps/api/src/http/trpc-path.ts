import type { Context } from "hono";

/** Where tRPC is mounted on the app. */
export const TRPC_PREFIX = "/trpc/";

/**
 * The procedure names a request to `/trpc/...` calls, as tRPC reads them: the raw path percent-decoded once (Hono's
 * `c.req.path` decodes all but reserved characters, so a `%2C` stays encoded there while tRPC reads it as a comma), a
 * batch split at its commas. Never fewer names than tRPC calls: the limiter counts them. Undefined outside tRPC, and
 * for a path tRPC cannot decode (it answers 400 without calling anything).
 */
export function trpcCallNames(c: Context): string[] | undefined {
  const path = c.req.path;
  if (!path.startsWith(TRPC_PREFIX)) return undefined;
  const url = c.req.url;
  const queryStart = url.indexOf("?");
  // Nearly every path has no escape in it (the input in the query string does); only those pay for parsing the URL.
  if (url.lastIndexOf("%", queryStart === -1 ? undefined : queryStart) === -1) {
    return path.slice(TRPC_PREFIX.length).split(",");
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  // The prefix itself may be spelled with escapes (`/%74rpc/`): decoded whole, it reads as Hono routed it.
  if (!decoded.startsWith(TRPC_PREFIX)) return undefined;
  return decoded.slice(TRPC_PREFIX.length).split(",");
}
