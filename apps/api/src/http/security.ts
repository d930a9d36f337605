import type { MiddlewareHandler } from "hono";
import { readSessionCredentials } from "../auth/credentials.ts";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * CSRF protection for cookie sessions: a state-changing request that carries our session cookie (and no bearer
 * token) must come from our own origin, shown by `Sec-Fetch-Site: same-origin` or an `Origin` equal to ours or on the
 * allow-list. This covers every content type, including tRPC batches and multipart, which browsers may send
 * cross-site without a preflight. Bearer-token requests cannot be forged by another site and pass.
 */
export function rejectCrossSiteCookieWrites(allowedOrigins: readonly string[] = []): MiddlewareHandler {
  const allowed = new Set(allowedOrigins);
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    if (readSessionCredentials(c.req.raw.headers)?.via !== "cookie") return next();
    const fetchSite = c.req.header("sec-fetch-site");
    const origin = c.req.header("origin");
    if (fetchSite === "same-origin" || origin === new URL(c.req.url).origin) return next();
    if (origin !== undefined && allowed.has(origin)) return next();
    return c.json({ error: { code: "FORBIDDEN", message: "Cross-site request refused (origin not allowed)" } }, 403);
  };
}
