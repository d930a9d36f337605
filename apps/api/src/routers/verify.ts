import { createHash } from "node:crypto";
import { type Certificate, certificateDocuments, certificates } from "@certchain/db";
import { computeCid, documentCidOf, readCertificateMetadata, StorageError } from "@certchain/storage";
import { desc, eq } from "drizzle-orm";
import { z } from "zod";
import { type OnChainCertificate, readCertificateOnChain } from "../chain/certificate-reader.ts";
import type { Context } from "../context.ts";
import { queriesOf } from "../queries.ts";
import { chainIdInput, isoDate, toIso } from "../schemas.ts";
import { publicProcedure } from "../trpc.ts";
import { fileInput, formInput, readUpload } from "../uploads.ts";

/**
 * Most certificates one document check verifies on chain: the same file issued to many recipients is checked newest
 * first, and the answer says when there were more.
 */
const MAX_CERTIFICATES_PER_DOCUMENT = 20;

export const verdicts = ["valid", "revoked", "expired", "unknown"] as const;

export const verificationOutput = z.object({
  tokenId: z.number(),
  /** In plain words: valid, revoked, expired, or unknown (never issued). Decided from the chain, not the database. */
  verdict: z.enum(verdicts),
  onChain: z
    .object({
      issuer: z.string(),
      owner: z.string(),
      cid: z.string(),
      tokenUri: z.string(),
      issuedAt: isoDate,
      expiresAt: isoDate.nullable(),
      revokedAt: isoDate.nullable(),
      /** The block all fields were read at. */
      blockNumber: z.number(),
    })
    .nullable(),
  /** The reason given when revoking, from the chain's revocation event (the contract keeps only the time). */
  revocationReason: z.string().nullable(),
  /** Blocks on top of the issuing block, counting it; null until indexed. */
  confirmations: z.number().nullable(),
  /** How the indexed row compares with the chain: any difference is reported, never papered over. */
  index: z.object({
    state: z.enum(["match", "mismatch", "not_indexed"]),
    mismatches: z.array(z.string()),
  }),
});

export type Verification = z.infer<typeof verificationOutput>;

function verdictOf(onChain: OnChainCertificate | null): Verification["verdict"] {
  if (!onChain) return "unknown";
  if (onChain.revokedAt) return "revoked";
  if (!onChain.valid) return "expired";
  return "valid";
}

/** Field-by-field differences between the indexed row and the chain, named for the reader. */
function compare(row: Certificate | undefined, onChain: OnChainCertificate | null): Verification["index"] {
  if (!row) return { state: onChain ? "not_indexed" : "match", mismatches: [] };
  if (!onChain) return { state: "mismatch", mismatches: ["indexed, but the registry has no such certificate"] };
  const mismatches: string[] = [];
  if (row.ownerAddress !== onChain.owner)
    mismatches.push(`owner: indexed ${row.ownerAddress}, on chain ${onChain.owner}`);
  if (row.issuerAddress !== onChain.issuer)
    mismatches.push(`issuer: indexed ${row.issuerAddress}, on chain ${onChain.issuer}`);
  if (row.ipfsHash !== onChain.cid) mismatches.push(`cid: indexed ${row.ipfsHash}, on chain ${onChain.cid}`);
  if ((row.status === "invalid") !== (onChain.revokedAt !== null)) {
    mismatches.push(`revocation: indexed ${row.status}, on chain ${onChain.revokedAt ? "revoked" : "not revoked"}`);
  }
  if (row.status === "invalid" && onChain.revokedAt !== null && row.revocationReason !== onChain.revocationReason) {
    mismatches.push("revocation reason: indexed text differs from the chain's");
  }
  if (toIso(row.expiresAt) !== toIso(onChain.expiresAt)) {
    mismatches.push(
      `expiry: indexed ${toIso(row.expiresAt) ?? "never"}, on chain ${toIso(onChain.expiresAt) ?? "never"}`,
    );
  }
  return { state: mismatches.length ? "mismatch" : "match", mismatches };
}

export async function verifyByTokenId(ctx: Context, tokenId: number): Promise<Verification> {
  const [onChain, row] = await Promise.all([
    readCertificateOnChain(ctx.deps.chain.client, ctx.deps.chain.contracts.CertificateRegistry, tokenId),
    queriesOf(ctx.deps.db).certificate(tokenId),
  ]);
  return {
    tokenId,
    verdict: verdictOf(onChain),
    onChain: onChain && {
      issuer: onChain.issuer,
      owner: onChain.owner,
      cid: onChain.cid,
      tokenUri: `ipfs://${onChain.cid}`,
      issuedAt: onChain.issuedAt.toISOString(),
      expiresAt: toIso(onChain.expiresAt),
      revokedAt: toIso(onChain.revokedAt),
      blockNumber: onChain.blockNumber,
    },
    revocationReason: onChain?.revocationReason ?? null,
    confirmations: row && onChain ? Math.max(0, onChain.blockNumber - row.issuedBlockNumber + 1) : null,
    index: compare(row, onChain),
  };
}

/** `certificates.verify`: public, by token id. */
export const verifyProcedure = publicProcedure
  .input(z.object({ tokenId: chainIdInput }).strict())
  .output(verificationOutput)
  .query(({ ctx, input }) => verifyByTokenId(ctx, input.tokenId));

export const documentVerdicts = [...verdicts, "no_match"] as const;

export const documentVerificationOutput = z.object({
  /** The uploaded file's IPFS CID, computed here (the file is not stored). */
  documentCid: z.string(),
  documentSha256: z.string(),
  size: z.number(),
  /** The type found in the file's bytes. */
  contentType: z.string(),
  /** The certificate the caller asked about, if any. */
  tokenId: z.number().nullable(),
  /**
   * valid, expired or revoked: the best verdict among the certificates whose on-chain metadata names this document
   * (in that order). unknown: no certificate names it, or the certificate asked about was never issued. no_match: the
   * certificate asked about names another document (a different or altered file).
   */
  verdict: z.enum(documentVerdicts),
  /** The certificates whose metadata names this document, verified on chain; the one the verdict speaks for first. */
  matches: z.array(verificationOutput),
  /** More certificates name this document than were checked. */
  truncated: z.boolean(),
});

export type DocumentVerification = z.infer<typeof documentVerificationOutput>;

/** The order in which a document's certificates speak for it: one valid certificate is enough. */
const VERDICT_RANK: Record<Verification["verdict"], number> = { valid: 0, expired: 1, revoked: 2, unknown: 3 };

/**
 * Whether the metadata under `metadataCid` (a CID read from the chain) names `documentCid`. This is the proof: the
 * metadata is content-addressed, so what it names cannot differ from what was certified. Returns why not, or null.
 */
async function whyMetadataDoesNotName(ctx: Context, metadataCid: string, documentCid: string): Promise<string | null> {
  try {
    const named = documentCidOf(await readCertificateMetadata(ctx.deps.storage, metadataCid));
    return named === documentCid ? null : `its metadata names ${named}`;
  } catch (error) {
    // Unknown, malformed or not certificate metadata: nothing is proven. An IPFS node that is down is not an answer.
    if (error instanceof StorageError && !error.retryable) return `its metadata cannot be read: ${error.message}`;
    throw error;
  }
}

/**
 * The certificates our index says name `documentCid`, verified on chain. Rows that do not hold up are logged and left
 * out: the index only finds candidates, the chain and the content-addressed metadata decide.
 */
async function certificatesNaming(ctx: Context, documentCid: string) {
  const candidates = await ctx.deps.db
    .select({ tokenId: certificates.tokenId, indexedCid: certificates.ipfsHash })
    .from(certificateDocuments)
    .innerJoin(certificates, eq(certificates.ipfsHash, certificateDocuments.metadataCid))
    .where(eq(certificateDocuments.documentCid, documentCid))
    .orderBy(desc(certificates.tokenId))
    .limit(MAX_CERTIFICATES_PER_DOCUMENT + 1);
  const checked = candidates.slice(0, MAX_CERTIFICATES_PER_DOCUMENT);
  const verified = await Promise.all(
    checked.map(async ({ tokenId, indexedCid }) => {
      const verification = await verifyByTokenId(ctx, tokenId);
      // The chain's CID, not the indexed one, is what the certificate certifies.
      const reason = verification.onChain
        ? await whyMetadataDoesNotName(ctx, verification.onChain.cid, documentCid)
        : "the registry has no such certificate";
      if (reason === null) return verification;
      ctx.deps.logger.warn(
        { documentCid, tokenId, indexedCid, chainCid: verification.onChain?.cid ?? null, reason },
        "Ignored an indexed certificate that does not certify the document",
      );
      return null;
    }),
  );
  const matches = verified.filter((verification) => verification !== null);
  matches.sort((a, b) => VERDICT_RANK[a.verdict] - VERDICT_RANK[b.verdict] || b.tokenId - a.tokenId);
  return { matches, truncated: candidates.length > checked.length };
}

/**
 * Verification by document: the uploaded file's CID is computed (not stored) and matched against the certificates
 * whose on-chain metadata names it; with `tokenId`, against that certificate alone. Throws 413/415 for an upload the
 * store would refuse.
 */
export async function verifyDocument(ctx: Context, file: File, tokenId?: number): Promise<DocumentVerification> {
  const { bytes, contentType } = await readUpload(ctx, file);
  const documentCid = await computeCid(bytes);
  const document = {
    documentCid,
    documentSha256: createHash("sha256").update(bytes).digest("hex"),
    size: bytes.length,
    contentType,
  };
  if (tokenId === undefined) {
    const { matches, truncated } = await certificatesNaming(ctx, documentCid);
    return { ...document, tokenId: null, verdict: matches[0]?.verdict ?? "unknown", matches, truncated };
  }
  const verification = await verifyByTokenId(ctx, tokenId);
  const named =
    verification.onChain !== null &&
    (await whyMetadataDoesNotName(ctx, verification.onChain.cid, documentCid)) === null;
  return {
    ...document,
    tokenId,
    verdict: !verification.onChain ? "unknown" : named ? verification.verdict : "no_match",
    matches: named ? [verification] : [],
    truncated: false,
  };
}

/**
 * `certificates.verifyDocument`: public. A mutation only because tRPC takes `multipart/form-data` (the file) for
 * mutations alone; it changes nothing.
 */
export const verifyDocumentProcedure = publicProcedure
  .input(formInput(z.object({ document: fileInput, tokenId: chainIdInput.optional() }).strict(), ["tokenId"]))
  .output(documentVerificationOutput)
  .mutation(({ ctx, input }) => verifyDocument(ctx, input.document, input.tokenId));
