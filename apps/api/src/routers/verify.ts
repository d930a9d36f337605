import { type Certificate, certificates } from "@certchain/db";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { type OnChainCertificate, readCertificateOnChain } from "../chain/certificate-reader.ts";
import type { Context } from "../context.ts";
import { chainIdInput, isoDate, toIso } from "../schemas.ts";
import { publicProcedure } from "../trpc.ts";

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
  const [onChain, [row]] = await Promise.all([
    readCertificateOnChain(ctx.deps.chain.client, ctx.deps.chain.contracts.CertificateRegistry, tokenId),
    ctx.deps.db.select().from(certificates).where(eq(certificates.tokenId, tokenId)),
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
