import { type CookieOptions, parse, serialize } from "hono/utils/cookie";
import { API_KEY_HEADER } from "./api-keys.ts";

/**
 * How a session token travels: `Authorization: Bearer <token>` for typed clients, or a cookie for browsers. The
 * cookie is `HttpOnly` (no script can read it), `Secure` (never over plain HTTP; browsers treat localhost as secure),
 * `SameSite=Lax` (not attached to cross-site subrequests) and host-wide.
 */
export const SESSION_COOKIE = "certchain_session";

const COOKIE_OPTIONS: CookieOptions = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" };

export type SessionCredentials = { token: string; via: "bearer" | "cookie" };

/**
 * The session token and how it came. A bearer token (scheme matched case-insensitively, RFC 9110) wins; any other
 * `Authorization` scheme (e.g. Basic credentials a browser attaches by itself) does not count as one, so such a
 * request is treated as cookie-borne, CSRF checks included. A request signed with an API key (`X-Certchain-Key`)
 * carries no session at all: its signature authenticates it (`http/signatures.ts`), and a stray cookie is ignored.
 * One function decides this for the context and the CSRF check alike.
 */
export function readSessionCredentials(headers: Headers): SessionCredentials | undefined {
  if (headers.has(API_KEY_HEADER)) return undefined;
  const bearer = /^bearer\s+(\S+)\s*$/i.exec(headers.get("authorization") ?? "");
  if (bearer?.[1]) return { token: bearer[1], via: "bearer" };
  const cookie = headers.get("cookie");
  const token = cookie ? parse(cookie, SESSION_COOKIE)[SESSION_COOKIE] : undefined;
  return token ? { token, via: "cookie" } : undefined;
}

/** `Set-Cookie` value carrying the token until `expiresAt`. */
export function sessionCookie(token: string, expiresAt: Date): string {
  return serialize(SESSION_COOKIE, token, { ...COOKIE_OPTIONS, expires: expiresAt });
}

/** `Set-Cookie` value that makes the browser forget the session. */
export function expiredSessionCookie(): string {
  return serialize(SESSION_COOKIE, "", { ...COOKIE_OPTIONS, maxAge: 0, expires: new Date(0) });
}
