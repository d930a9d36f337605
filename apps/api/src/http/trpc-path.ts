import type { Context } from "hono";

/** Where tRPC is mounted on the app. */
export const TRPC_PREFIX = "/trpc/";

/**
 * The procedure names a request to `/trpc/...` calls, read as tRPC reads them: from the raw path, percent-decoded once
 * (Hono's `c.req.path` leaves a `%2C` encoded and decodes the rest, tRPC reads a `%2C` as a comma), a batch split at
 * its commas. Undefined outside tRPC, and for a path tRPC cannot decode (it answers 400 without calling anything).
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
  const raw = new URL(url).pathname;
  if (!raw.startsWith(TRPC_PREFIX)) return undefined;
  try {
    return decodeURIComponent(raw.slice(TRPC_PREFIX.length)).split(",");
  } catch {
    return undefined;
  }
}
