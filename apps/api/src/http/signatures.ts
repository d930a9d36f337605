import type { Context as HonoContext, MiddlewareHandler } from "hono";
import {
  API_KEY_HEADER,
  type ApiKeyCaller,
  apiKeySecret,
  canonicalRequest,
  findApiKey,
  SIGNATURE_HEADER,
  SIGNATURE_NONCE_HEADER,
  SIGNATURE_TIMESTAMP_HEADER,
  signatureMatches,
  touchApiKey,
} from "../auth/api-keys.ts";
import type { ApiDeps } from "../context.ts";
import { refusal } from "./refusal.ts";

/** How far a signature's timestamp may be from the server's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;

const TIMESTAMP_PATTERN = /^\d{1,12}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/i;

type SignedEnv = { Variables: { apiKey?: ApiKeyCaller } };

/** The API key a request was signed with, once `verifySignedRequests` has accepted it. */
export const apiKeyOf = (c: HonoContext): ApiKeyCaller | undefined => (c as HonoContext<SignedEnv>).get("apiKey");

/** A nonce is remembered as long as a request carrying it could still pass the clock check. */
const nonceKey = (redisPrefix: string, keyId: string, nonce: string) =>
  `${redisPrefix}:api-key-nonce:${keyId}:${nonce}`;

/**
 * Requests signed with an API key (`X-Certchain-Key` present; see `auth/api-keys.ts` for the scheme): checks the
 * headers, the clock window, the key, the HMAC over method, path, timestamp, nonce and body hash, and that the nonce
 * is new, in that order, and answers 401 naming the first problem. An accepted request acts as the key's owner
 * (`apiKeyOf`); unsigned requests pass untouched. Runs after the body limit; the body is read through Hono's cache,
 * so tRPC and the REST routes read it again afterwards.
 */
export function verifySignedRequests(deps: Pick<ApiDeps, "db" | "redis" | "config">): MiddlewareHandler {
  const refuse = (c: HonoContext, message: string) => refusal(c, 401, "UNAUTHORIZED", message);
  return async (c, next) => {
    const keyId = c.req.header(API_KEY_HEADER);
    if (keyId === undefined) return next();
    const timestamp = c.req.header(SIGNATURE_TIMESTAMP_HEADER);
    const nonce = c.req.header(SIGNATURE_NONCE_HEADER);
    const signature = c.req.header(SIGNATURE_HEADER);
    if (timestamp === undefined || nonce === undefined || signature === undefined) {
      const missing = [
        timestamp === undefined && "X-Certchain-Timestamp",
        nonce === undefined && "X-Certchain-Nonce",
        signature === undefined && "X-Certchain-Signature",
      ].filter(Boolean);
      return refuse(c, `Signed request is missing ${missing.join(", ")}`);
    }
    if (!TIMESTAMP_PATTERN.test(timestamp)) return refuse(c, "X-Certchain-Timestamp must be Unix time in seconds");
    const now = Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(timestamp)) > SIGNATURE_WINDOW_SECONDS) {
      return refuse(c, `Signature timestamp outside the 5-minute window (server time is ${now})`);
    }
    if (!NONCE_PATTERN.test(nonce)) {
      return refuse(c, "X-Certchain-Nonce must be 16 to 128 letters, digits, '-' or '_'");
    }
    if (!SIGNATURE_PATTERN.test(signature)) {
      return refuse(c, "X-Certchain-Signature must be 64 hex digits (HMAC-SHA256)");
    }

    const key = await findApiKey(deps.db, keyId);
    if (!key) return refuse(c, `Unknown API key ${keyId.slice(0, 40)}`);
    if (key.revokedAt) return refuse(c, `API key ${keyId} has been revoked`);

    const method = c.req.method;
    const body = method === "GET" || method === "HEAD" ? new Uint8Array() : new Uint8Array(await c.req.arrayBuffer());
    const url = new URL(c.req.url);
    const canonical = canonicalRequest({ method, pathWithQuery: url.pathname + url.search, timestamp, nonce, body });
    if (!signatureMatches(apiKeySecret(key, deps.config), canonical, signature)) {
      return refuse(c, "Signature does not match the request (method, path, timestamp, nonce or body differ)");
    }

    // Only a valid signature spends its nonce, so nobody else can burn a client's nonces.
    let fresh: string | null;
    try {
      fresh = await deps.redis.set(
        nonceKey(deps.config.redisPrefix, keyId, nonce),
        "1",
        "EX",
        2 * SIGNATURE_WINDOW_SECONDS,
        "NX",
      );
    } catch {
      c.header("retry-after", "5");
      return refusal(c, 503, "SERVICE_UNAVAILABLE", "Signed requests cannot be checked right now");
    }
    if (fresh === null) return refuse(c, "Nonce already used: every signed request needs a new X-Certchain-Nonce");

    await touchApiKey(deps.db, key);
    (c as HonoContext<SignedEnv>).set("apiKey", { keyId: key.keyId, scopes: key.scopes, user: key.user });
    return next();
  };
}
