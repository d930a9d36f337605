import { type Db, sessions, type User, users } from "@certchain/db";
import { eq } from "drizzle-orm";
import { generateSessionToken, isWellFormedSessionToken, sessionIdOf } from "./session-token.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** A session lives this long after its last renewal. */
export const SESSION_LIFETIME_MS = 30 * DAY_MS;
/** Sliding renewal: a session used in the second half of its life is extended to a full lifetime again. */
const RENEW_WITHIN_MS = SESSION_LIFETIME_MS / 2;

export type SessionUser = Pick<User, "id" | "username" | "email" | "role" | "walletAddress" | "externalAddress"> & {
  createdAt: Date | null;
};

/** The columns a session carries of its user: an explicit pick, so a hash or key column can never ride along. */
export const sessionUserColumns = {
  id: users.id,
  username: users.username,
  email: users.email,
  role: users.role,
  walletAddress: users.walletAddress,
  externalAddress: users.externalAddress,
  createdAt: users.createdAt,
};

export type ValidatedSession = {
  sessionId: string;
  expiresAt: Date;
  /** True when this validation extended the session, so the cookie should be re-sent with the new expiry. */
  renewed: boolean;
  user: SessionUser;
};

export type SessionMeta = { userAgent?: string | undefined; ip?: string | undefined };

/** Creates a session for `userId` and returns the token to hand to the client (the database keeps only its hash). */
export async function createSession(
  db: Db,
  userId: number,
  meta: SessionMeta,
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const token = generateSessionToken();
  const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
  await db.insert(sessions).values({
    id: sessionIdOf(token),
    userId,
    expiresAt,
    lastVerifiedAt: now,
    userAgent: meta.userAgent?.slice(0, 255) ?? null,
    ip: meta.ip?.slice(0, 45) ?? null,
  });
  return { token, expiresAt };
}

/**
 * The session and user behind `token`, or null when the token is unknown, malformed or expired (an expired row is
 * deleted on the spot). Renews the session when it is in the second half of its lifetime.
 */
export async function validateSessionToken(db: Db, token: string, now = new Date()): Promise<ValidatedSession | null> {
  if (!isWellFormedSessionToken(token)) return null;
  const sessionId = sessionIdOf(token);
  const [row] = await db
    .select({
      expiresAt: sessions.expiresAt,
      user: sessionUserColumns,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId))
    .limit(1);
  if (!row) return null;

  if (now.getTime() >= row.expiresAt.getTime()) {
    await db.delete(sessions).where(eq(sessions.id, sessionId));
    return null;
  }
  if (row.expiresAt.getTime() - now.getTime() < RENEW_WITHIN_MS) {
    const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
    await db.update(sessions).set({ expiresAt, lastVerifiedAt: now }).where(eq(sessions.id, sessionId));
    return { sessionId, expiresAt, renewed: true, user: row.user };
  }
  return { sessionId, expiresAt: row.expiresAt, renewed: false, user: row.user };
}

export async function invalidateSession(db: Db, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

/** "Log out everywhere": every session of the user, this one included. */
export async function invalidateAllSessions(db: Db, userId: number): Promise<void> {
  await db.delete(sessions).where(eq(sessions.userId, userId));
}
