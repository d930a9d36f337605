import { type Certificate, certificates } from "@certchain/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { idempotencyKey, requestOutput, submit, walletOf } from "../requests.ts";
import { addressInput, chainIdInput, isoDate, toIso } from "../schemas.ts";
import { protectedProcedure, publicProcedure } from "../trpc.ts";
import { verifyProcedure } from "./verify.ts";

export const certificateOutput = z.object({
  tokenId: z.number(),
  owner: z.string(),
  issuer: z.string(),
  cid: z.string(),
  tokenUri: z.string(),
  /** `invalid` once revoked (the seed's column). */
  status: z.enum(["valid", "invalid"]),
  /** Not revoked and not expired, as of now. */
  valid: z.boolean(),
  expired: z.boolean(),
  issuedAt: isoDate,
  expiresAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
  revocationReason: z.string().nullable(),
  issueTxHash: z.string(),
  /** The block of the row's latest change. */
  blockNumber: z.number(),
});

export function toCertificateOutput(row: Certificate, now = new Date()): z.infer<typeof certificateOutput> {
  const expired = row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime();
  return {
    tokenId: row.tokenId,
    owner: row.ownerAddress,
    issuer: row.issuerAddress,
    cid: row.ipfsHash,
    tokenUri: `ipfs://${row.ipfsHash}`,
    status: row.status,
    valid: row.status === "valid" && !expired,
    expired,
    issuedAt: row.issuedAt.toISOString(),
    expiresAt: toIso(row.expiresAt),
    revokedAt: toIso(row.revokedAt),
    revocationReason: row.revocationReason,
    issueTxHash: row.issueTxHash,
    blockNumber: row.blockNumber,
  };
}

export const certificatesRouter = {
  /** One certificate as indexed, with how deep its latest change is buried (confirmations). */
  get: publicProcedure
    .input(z.object({ tokenId: chainIdInput }).strict())
    .output(certificateOutput.extend({ confirmations: z.number() }))
    .query(async ({ ctx, input }) => {
      const [row] = await ctx.deps.db.select().from(certificates).where(eq(certificates.tokenId, input.tokenId));
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `No certificate with token id ${input.tokenId}` });
      const head = await ctx.deps.head.latest();
      return { ...toCertificateOutput(row), confirmations: Math.max(0, head - row.blockNumber + 1) };
    }),

  /** Certificates newest first, filtered by owner, issuer and status; each filter uses its own index. */
  list: publicProcedure
    .input(
      z
        .object({
          owner: addressInput.optional(),
          issuer: addressInput.optional(),
          status: z.enum(["valid", "invalid"]).optional(),
          limit: pageSize,
          cursor: cursorInput,
        })
        .strict(),
    )
    .output(pageOutput(certificateOutput))
    .query(async ({ ctx, input }) => {
      const filters: SQL[] = [];
      if (input.owner) filters.push(eq(certificates.ownerAddress, input.owner));
      if (input.issuer) filters.push(eq(certificates.issuerAddress, input.issuer));
      if (input.status) filters.push(eq(certificates.status, input.status));
      if (input.cursor) {
        const [beforeTokenId] = decodeCursor(input.cursor, z.tuple([z.number().int()]));
        filters.push(lt(certificates.tokenId, beforeTokenId));
      }
      const rows = await ctx.deps.db
        .select()
        .from(certificates)
        .where(and(...filters))
        .orderBy(desc(certificates.tokenId))
        .limit(input.limit + 1);
      const now = new Date();
      return toPage(
        rows,
        input.limit,
        (row) => toCertificateOutput(row, now),
        (row) => [row.tokenId],
      );
    }),

  verify: verifyProcedure,

  /**
   * Revokes a certificate on chain. Open to the certificate's issuer and to admins, as the contract is; anyone else
   * gets FORBIDDEN before anything is queued. Admins revoke with the operator wallet, which holds the admin role.
   */
  invalidate: protectedProcedure
    .input(
      z
        .object({
          tokenId: chainIdInput,
          reason: z.string().trim().min(1, "is required").max(500, "must be at most 500 characters"),
          idempotencyKey,
        })
        .strict(),
    )
    .output(requestOutput)
    .mutation(async ({ ctx, input }) => {
      const [row] = await ctx.deps.db.select().from(certificates).where(eq(certificates.tokenId, input.tokenId));
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `No certificate with token id ${input.tokenId}` });
      const isAdmin = ctx.user.role === "admin";
      const isIssuer = ctx.user.walletAddress !== null && ctx.user.walletAddress === row.issuerAddress;
      if (!isIssuer && !isAdmin) {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: "Only the certificate's issuer or an admin can invalidate it",
        });
      }
      if (row.status === "invalid")
        throw new TRPCError({ code: "CONFLICT", message: "The certificate is already revoked" });
      return submit(ctx, {
        kind: "revoke",
        payload: { tokenId: String(input.tokenId), reason: input.reason },
        userId: ctx.user.id,
        idempotencyKey: input.idempotencyKey,
        from: isIssuer ? walletOf(ctx.user) : ctx.deps.operatorAddress,
      });
    }),
} satisfies TRPCRouterRecord;
