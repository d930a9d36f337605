import { apiKeys, type Db, users } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, desc, eq, isNull, type SQL } from "drizzle-orm";
import { z } from "zod";
import { API_KEY_SCOPES } from "../auth/api-key-scopes.ts";
import { createApiKey, KEY_ID_PATTERN } from "../auth/api-keys.ts";
import { idempotencyKey, requestOutput, submit } from "../requests.ts";
import { isoDate, toIso } from "../schemas.ts";
import { adminProcedure } from "../trpc.ts";

const roleChange = z.object({ userId: z.number().int().positive("must be a user id"), idempotencyKey }).strict();

/**
 * Issuer roles live in two places: `users.role` (what the API checks) and ISSUER_ROLE on the registry (what the chain
 * checks). Both change together: the row at once, the chain through the operator's queued transaction.
 */
function changeIssuerRole(grant: boolean) {
  return adminProcedure
    .input(roleChange)
    .output(requestOutput)
    .mutation(async ({ ctx, input }) => {
      const [user] = await ctx.deps.db.select().from(users).where(eq(users.id, input.userId));
      if (!user) throw new TRPCError({ code: "NOT_FOUND", message: `No user ${input.userId}` });
      if (user.role === "admin")
        throw new TRPCError({ code: "CONFLICT", message: "Admins' roles are not changed here" });
      if (!user.walletAddress) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "The user has no wallet" });
      const request = await submit(ctx, {
        kind: grant ? "grant_issuer" : "revoke_issuer",
        payload: { account: user.walletAddress },
        idempotencyKey: input.idempotencyKey,
        from: ctx.deps.operatorAddress,
      });
      await ctx.deps.db
        .update(users)
        .set({ role: grant ? "issuer" : "user" })
        .where(eq(users.id, user.id));
      return request;
    });
}

const userId = z.number().int().positive("must be a user id");
const keyId = z.string().max(40, "is too long").regex(KEY_ID_PATTERN, "must be an API key id (ck_…)");

const apiKeyOutput = z.object({
  keyId: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  userId: z.number(),
  username: z.string(),
  createdByUserId: z.number().nullable(),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
});

/** Every column a listing shows: an explicit pick, so the encrypted secret never rides along. */
async function listKeys(db: Db, where: SQL | undefined) {
  const rows = await db
    .select({
      keyId: apiKeys.keyId,
      name: apiKeys.name,
      scopes: apiKeys.scopes,
      userId: apiKeys.userId,
      username: users.username,
      createdByUserId: apiKeys.createdByUserId,
      createdAt: apiKeys.createdAt,
      lastUsedAt: apiKeys.lastUsedAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(where)
    .orderBy(desc(apiKeys.id));
  return rows.map((row) => ({
    ...row,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: toIso(row.lastUsedAt),
    revokedAt: toIso(row.revokedAt),
  }));
}

/**
 * API keys for server-to-server clients (`auth/api-keys.ts`): created, listed and revoked by admins, with a person's
 * session (a key cannot manage keys). The secret is returned once, by `createApiKey`, and by nothing else.
 */
const apiKeyProcedures = {
  createApiKey: adminProcedure
    .input(
      z
        .object({
          name: z.string().trim().min(1, "is required").max(100, "must be at most 100 characters"),
          scopes: z.array(z.enum(API_KEY_SCOPES)).min(1, "give at least one scope").max(API_KEY_SCOPES.length),
          /** Whom the key acts as; the calling admin by default. */
          userId: userId.optional(),
        })
        .strict(),
    )
    .output(apiKeyOutput.extend({ secret: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const ownerId = input.userId ?? ctx.user.id;
      const [owner] = await ctx.deps.db.select({ id: users.id }).from(users).where(eq(users.id, ownerId));
      if (!owner) throw new TRPCError({ code: "NOT_FOUND", message: `No user ${ownerId}` });
      const created = await createApiKey(ctx.deps.db, ctx.deps.config, {
        userId: ownerId,
        createdByUserId: ctx.user.id,
        name: input.name,
        scopes: input.scopes,
      });
      const [listed] = await listKeys(ctx.deps.db, eq(apiKeys.keyId, created.keyId));
      if (!listed) throw new Error("the new API key was not found");
      return { ...listed, secret: created.secret };
    }),

  listApiKeys: adminProcedure
    .input(
      z
        .object({ userId: userId.optional(), includeRevoked: z.boolean().default(true) })
        .strict()
        .default({ includeRevoked: true }),
    )
    .output(z.array(apiKeyOutput))
    .query(({ ctx, input }) =>
      listKeys(
        ctx.deps.db,
        and(
          input.userId === undefined ? undefined : eq(apiKeys.userId, input.userId),
          input.includeRevoked ? undefined : isNull(apiKeys.revokedAt),
        ),
      ),
    ),

  /** Takes effect on the next request signed with it. Revoking a revoked key keeps its first revocation time. */
  revokeApiKey: adminProcedure
    .input(z.object({ keyId }).strict())
    .output(apiKeyOutput)
    .mutation(async ({ ctx, input }) => {
      await ctx.deps.db
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.keyId, input.keyId), isNull(apiKeys.revokedAt)));
      const [listed] = await listKeys(ctx.deps.db, eq(apiKeys.keyId, input.keyId));
      if (!listed) throw new TRPCError({ code: "NOT_FOUND", message: `No API key ${input.keyId}` });
      return listed;
    }),
} satisfies TRPCRouterRecord;

export const adminRouter = {
  grantIssuer: changeIssuerRole(true),
  revokeIssuer: changeIssuerRole(false),
  ...apiKeyProcedures,
} satisfies TRPCRouterRecord;
