import { users } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { idempotencyKey, requestOutput, submit } from "../requests.ts";
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

export const adminRouter = {
  grantIssuer: changeIssuerRole(true),
  revokeIssuer: changeIssuerRole(false),
} satisfies TRPCRouterRecord;
