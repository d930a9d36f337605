import { txRequestStatuses, txRequests } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { isoDate, toIso } from "../schemas.ts";
import { protectedProcedure } from "../trpc.ts";

export const txStatusOutput = z.object({
  requestId: z.string(),
  kind: z.string(),
  status: z.enum(txRequestStatuses),
  txHash: z.string().nullable(),
  /** A decoded custom error (`NotIssuer`), `reverted`, `insufficient_funds`, … when `failed`. */
  errorCode: z.string().nullable(),
  blockNumber: z.number().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const txRouter = {
  /** Where one of the caller's requests stands. Someone else's request is NOT_FOUND, as if it did not exist. */
  status: protectedProcedure
    .input(z.object({ requestId: z.uuid("must be a request id") }).strict())
    .output(txStatusOutput)
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.deps.db.select().from(txRequests).where(eq(txRequests.id, input.requestId));
      if (!row || row.userId !== ctx.user.id) {
        throw new TRPCError({ code: "NOT_FOUND", message: `No request ${input.requestId}` });
      }
      return {
        requestId: row.id,
        kind: row.kind,
        status: row.status,
        txHash: row.txHash,
        errorCode: row.errorCode,
        blockNumber: row.blockNumber,
        createdAt: toIso(row.createdAt) ?? "",
        updatedAt: toIso(row.updatedAt) ?? "",
      };
    }),
} satisfies TRPCRouterRecord;
