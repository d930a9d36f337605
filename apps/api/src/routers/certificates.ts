import { type Certificate, certificateDocuments, certificates, txRequests, users } from "@certchain/db";
import { storeCertificateMetadata } from "@certchain/storage";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, decodeCursor, pageOutput, pageSize, toPage } from "../pagination.ts";
import { queriesOf } from "../queries.ts";
import { idempotencyKey, requestOutput, submit, walletOf } from "../requests.ts";
import { addressInput, chainIdInput, isoDate, toIso } from "../schemas.ts";
import { issuerProcedure, protectedProcedure, publicProcedure } from "../trpc.ts";
import { type Document, fileInput, formInput, readStoredDocument, readUpload } from "../uploads.ts";
import { verifyDocumentProcedure, verifyProcedure } from "./verify.ts";

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

/** `expired` and `valid` as of now, for an answer that may have been worked out before the expiry passed. */
function asOfNow(certificate: z.infer<typeof certificateOutput>, now = Date.now()): z.infer<typeof certificateOutput> {
  const expired = certificate.expiresAt !== null && Date.parse(certificate.expiresAt) <= now;
  return { ...certificate, expired, valid: certificate.status === "valid" && !expired };
}

const text = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);

/**
 * What an issuer sends to issue a certificate: the recipient (an address or a user id), the words wallets show, an
 * optional expiry, and the certified document — uploaded (`document`, multipart) or already stored (`documentCid`).
 */
const createInput = formInput(
  z
    .object({
      recipient: addressInput.optional(),
      recipientUserId: z.number().int().positive("must be a user id").optional(),
      /** Shown in the metadata; defaults to the recipient's username when given by user id. */
      recipientName: text(200).min(1, "is required").optional(),
      name: text(200).min(1, "is required"),
      description: text(10_000).default(""),
      /** Defaults to the issuer's username. */
      issuerName: text(200).min(1, "is required").optional(),
      expiresAt: z.iso
        .datetime({ offset: true, error: "must be an ISO 8601 date-time such as 2030-06-30T00:00:00Z" })
        .optional(),
      document: fileInput.optional(),
      documentCid: z.string().trim().min(1).max(255, "is too long").optional(),
      idempotencyKey,
    })
    .strict()
    .refine((input) => (input.recipient === undefined) !== (input.recipientUserId === undefined), {
      error: "give exactly one of recipient (an address) and recipientUserId",
      path: ["recipient"],
    })
    .refine((input) => (input.document === undefined) !== (input.documentCid === undefined), {
      error: "give exactly one of document (a file) and documentCid (a stored document)",
      path: ["document"],
    })
    .refine((input) => input.recipientUserId !== undefined || input.recipientName !== undefined, {
      error: "is required when the recipient is given by address",
      path: ["recipientName"],
    }),
  ["recipientUserId"],
);

export const certificatesRouter = {
  /**
   * Issues a certificate: stores the document and its ERC-721 metadata in the content store, records which metadata
   * names which document (for verification by document), and queues `issue(to, metadataCid, expiresAt)` from the
   * issuer's wallet. The token id exists once the transaction is mined; follow `tx.status` / `tx.onStatus`.
   */
  create: issuerProcedure
    .input(createInput)
    .output(requestOutput.extend({ metadataCid: z.string(), documentCid: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const issuerWallet = walletOf(ctx.user);
      let recipient = { address: input.recipient, name: input.recipientName };
      if (input.recipientUserId !== undefined) {
        const [user] = await ctx.deps.db
          .select({ username: users.username, walletAddress: users.walletAddress })
          .from(users)
          .where(eq(users.id, input.recipientUserId));
        if (!user?.walletAddress) {
          throw new TRPCError({ code: "NOT_FOUND", message: `No user ${input.recipientUserId} with a wallet` });
        }
        recipient = { address: user.walletAddress, name: input.recipientName ?? user.username };
      }
      const expiresAt = input.expiresAt === undefined ? null : new Date(input.expiresAt);
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "expiresAt must be in the future" });
      }
      const document: Document = input.document
        ? await readUpload(ctx, input.document)
        : await readStoredDocument(ctx, input.documentCid ?? "");

      const stored = await storeCertificateMetadata(ctx.deps.storage, {
        name: input.name,
        description: input.description,
        issuer: { address: issuerWallet, name: input.issuerName ?? ctx.user.username },
        recipient: { name: recipient.name ?? "", address: recipient.address },
        issuedAt: new Date(),
        expiresAt,
        document,
      });
      await ctx.deps.db
        .insert(certificateDocuments)
        .values({
          documentCid: stored.documentCid,
          metadataCid: stored.metadataCid,
          documentSha256: stored.metadata.document_sha256,
        })
        .onDuplicateKeyUpdate({ set: { documentCid: stored.documentCid } });
      const { requestId, created } = await submit(ctx, {
        kind: "issue",
        payload: {
          to: recipient.address ?? "",
          cid: stored.metadataCid,
          expiresAt: expiresAt ? String(Math.floor(expiresAt.getTime() / 1000)) : "0",
        },
        idempotencyKey: input.idempotencyKey,
        from: issuerWallet,
      });
      if (created) return { requestId, metadataCid: stored.metadataCid, documentCid: stored.documentCid };
      // A retry: the metadata just built carries a new issue time, so answer with what the first call queued.
      const [first] = await ctx.deps.db
        .select({ payload: txRequests.payload })
        .from(txRequests)
        .where(eq(txRequests.id, requestId));
      const metadataCid = String(first?.payload.cid ?? "");
      const [names] = await ctx.deps.db
        .select({ documentCid: certificateDocuments.documentCid })
        .from(certificateDocuments)
        .where(eq(certificateDocuments.metadataCid, metadataCid));
      return { requestId, metadataCid, documentCid: names?.documentCid ?? stored.documentCid };
    }),

  /**
   * One certificate as indexed, with how deep its latest change is buried (confirmations). Served from the read cache
   * (CACHE_TTL_MS, dropped when the indexer changes the row); expiry and confirmations are worked out per call.
   */
  get: publicProcedure
    .input(z.object({ tokenId: chainIdInput }).strict())
    .output(certificateOutput.extend({ confirmations: z.number() }))
    .query(async ({ ctx, input }) => {
      const certificate = await ctx.deps.cache.certificates.get(String(input.tokenId), async () => {
        const row = await queriesOf(ctx.deps.db).certificate(input.tokenId);
        if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `No certificate with token id ${input.tokenId}` });
        return toCertificateOutput(row);
      });
      const head = await ctx.deps.head.latest();
      return { ...asOfNow(certificate), confirmations: Math.max(0, head - certificate.blockNumber + 1) };
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
  verifyDocument: verifyDocumentProcedure,

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
      const row = await queriesOf(ctx.deps.db).certificate(input.tokenId);
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
        idempotencyKey: input.idempotencyKey,
        from: isIssuer ? walletOf(ctx.user) : ctx.deps.operatorAddress,
      });
    }),
} satisfies TRPCRouterRecord;
