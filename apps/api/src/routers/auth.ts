import { isDuplicateKeyError, users, wallets } from "@certchain/db";
import { generateCustodialWallet } from "@certchain/queue";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { eq, or } from "drizzle-orm";
import { z } from "zod";
import { expiredSessionCookie } from "../auth/credentials.ts";
import { email, password, username } from "../auth/fields.ts";
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from "../auth/passwords.ts";
import { profileOutput, sessionOutput, startSession, toProfile } from "../auth/session-response.ts";
import { invalidateAllSessions, invalidateSession, sessionUserColumns } from "../auth/sessions.ts";
import { enforce } from "../http/rate-limit.ts";
import { protectedProcedure, publicProcedure } from "../trpc.ts";
import { siweProcedures } from "./siwe.ts";

export const authRouter = {
  register: publicProcedure
    .input(z.object({ username, email, password }).strict())
    .output(sessionOutput)
    .mutation(async ({ ctx, input }) => {
      await enforce(ctx.resHeaders, ctx.deps.limits.register(ctx.meta.ip));
      const passwordHash = await hashPassword(input.password);
      // Every account gets a custodial wallet; its key is encrypted under MASTER_KEY before it reaches MySQL, and the
      // user, wallet and address link are written together or not at all.
      const wallet = generateCustodialWallet(ctx.deps.config.masterKey, ctx.deps.config.masterKeyVersion);
      let userId: number;
      try {
        userId = await ctx.deps.db.transaction(async (tx) => {
          const [created] = await tx
            .insert(users)
            .values({
              username: input.username,
              email: input.email.toLowerCase(),
              passwordHash,
              walletAddress: wallet.address,
            })
            .$returningId();
          if (!created) throw new Error("insert returned no id");
          await tx.insert(wallets).values({
            userId: created.id,
            address: wallet.address,
            encryptedPrivateKey: wallet.encryptedPrivateKey,
            iv: wallet.iv,
            authTag: wallet.authTag,
            keyVersion: wallet.keyVersion,
          });
          return created.id;
        });
      } catch (error) {
        if (isDuplicateKeyError(error, "users_username_uq") || isDuplicateKeyError(error, "users_email_uq")) {
          // One message for both keys: the form learns only that it must pick another name or address.
          throw new TRPCError({ code: "CONFLICT", message: "That username or email is already registered" });
        }
        throw error;
      }
      const [user] = await ctx.deps.db.select(sessionUserColumns).from(users).where(eq(users.id, userId));
      if (!user) throw new Error(`user ${userId} vanished after insert`);
      return startSession(ctx, user);
    }),

  login: publicProcedure
    .input(
      z
        .object({
          /** Username or email. */
          // Usernames and emails are printable ASCII, which `utf8mb4_unicode_ci` compares only ignoring case: every
          // login that finds an account is then that login in some case (what the limits below rely on).
          login: z
            .string()
            .trim()
            .min(1, "is required")
            .max(100, "must be at most 100 characters")
            .regex(/^[\x21-\x7e]+$/, "must be a username or an email address"),
          password: z.string().min(1, "is required").max(MAX_PASSWORD_LENGTH),
        })
        .strict(),
    )
    .output(sessionOutput)
    .mutation(async ({ ctx, input }) => {
      const [found] = await ctx.deps.db
        .select({ ...sessionUserColumns, passwordHash: users.passwordHash })
        .from(users)
        .where(or(eq(users.username, input.login), eq(users.email, input.login.toLowerCase())))
        .limit(1);
      // Brute force: an account that failed too often from this address (or from all of them), or an address that
      // failed too often, waits, even with the right password. Counted by the account the login found (its username
      // and its email are one account), an unknown login by itself in lower case.
      const account = found ? `user:${found.id}` : `login:${input.login.toLowerCase()}`;
      await enforce(ctx.resHeaders, ctx.deps.limits.loginAttempt(account, ctx.meta.ip));
      if (!(await verifyPassword(found?.passwordHash, input.password)) || !found) {
        throw new TRPCError({ code: "UNAUTHORIZED", message: "Wrong username, email or password" });
      }
      await ctx.deps.limits.loginSucceeded(account, ctx.meta.ip);
      const { passwordHash: _hash, ...user } = found;
      return startSession(ctx, user);
    }),

  logout: protectedProcedure.output(z.object({ ok: z.literal(true) })).mutation(async ({ ctx }) => {
    // Sessions only: API keys may not call this (auth/api-key-scopes.ts) and have no session to end.
    if (ctx.session) await invalidateSession(ctx.deps.db, ctx.session.sessionId);
    ctx.resHeaders.append("set-cookie", expiredSessionCookie());
    return { ok: true as const };
  }),

  logoutAll: protectedProcedure.output(z.object({ ok: z.literal(true) })).mutation(async ({ ctx }) => {
    await invalidateAllSessions(ctx.deps.db, ctx.user.id);
    ctx.resHeaders.append("set-cookie", expiredSessionCookie());
    return { ok: true as const };
  }),

  profile: protectedProcedure.output(profileOutput).query(({ ctx }) => toProfile(ctx.user)),

  ...siweProcedures,
} satisfies TRPCRouterRecord;
