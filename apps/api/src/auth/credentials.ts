import { type CookieOptions, parse, serialize } from "hono/utils/cookie";

/**
 * How a session token travels: `Authorization: Bearer <token>` for typed clients, or a cookie for browsers. The
 * cookie is `HttpOnly` (no script can read it), `Secure` (never over plain HTTP; browsers treat localhost as secure),
 * `SameSite=Lax` (not attached to cross-site subrequests) and host-wide.
 */
export const SESSION_COOKIE = "certchain_session";

const COOKIE_OPTIONS: CookieOptions = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" };

export function readSessionToken(headers: Headers): string | undefined {
  const authorization = headers.get("authorization");
  if (authorization?.startsWith("Bearer ")) return authorization.slice("Bearer ".length).trim() || undefined;
  const cookie = headers.get("cookie");
  return cookie ? parse(cookie, SESSION_COOKIE)[SESSION_COOKIE] : undefined;
}

/** `Set-Cookie` value carrying the token until `expiresAt`. */
export function sessionCookie(token: string, expiresAt: Date): string {
  return serialize(SESSION_COOKIE, token, { ...COOKIE_OPTIONS, expires: expiresAt });
}

/** `Set-Cookie` value that makes the browser forget the session. */
export function expiredSessionCookie(): string {
  return serialize(SESSION_COOKIE, "", { ...COOKIE_OPTIONS, maxAge: 0, expires: new Date(0) });
}
