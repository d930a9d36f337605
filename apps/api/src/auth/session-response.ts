import { z } from "zod";
import type { Context } from "../context.ts";
import { sessionCookie } from "./credentials.ts";
import { createSession, type SessionUser } from "./sessions.ts";

export const profileOutput = z.object({
  id: z.number(),
  username: z.string(),
  email: z.string(),
  role: z.enum(["user", "issuer", "admin"]),
  walletAddress: z.string().nullable(),
  externalAddress: z.string().nullable(),
  createdAt: z.string().nullable(),
});

export const sessionOutput = z.object({
  user: profileOutput,
  /** For `Authorization: Bearer` clients; browsers get the same token as an HttpOnly cookie. */
  token: z.string(),
  expiresAt: z.string(),
});

/** The public view of a user: an explicit pick, so a hash or key column can never leak by being added. */
export function toProfile(user: SessionUser): z.infer<typeof profileOutput> {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    walletAddress: user.walletAddress,
    externalAddress: user.externalAddress,
    createdAt: user.createdAt?.toISOString() ?? null,
  };
}

/** Signs `user` in: a new session, its token in the answer and in the session cookie (every way of signing in). */
export async function startSession(ctx: Context, user: SessionUser): Promise<z.infer<typeof sessionOutput>> {
  const { token, expiresAt } = await createSession(ctx.deps.db, user.id, ctx.meta);
  ctx.resHeaders.append("set-cookie", sessionCookie(token, expiresAt));
  return { user: toProfile(user), token, expiresAt: expiresAt.toISOString() };
}
