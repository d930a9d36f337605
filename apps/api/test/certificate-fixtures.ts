import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { certificateDocuments, certificates } from "@certchain/db";
import { storeCertificateMetadata } from "@certchain/storage";
import { eq } from "drizzle-orm";
import { type Address, createPublicClient, createWalletClient, type Hex, http, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import type { TestApi } from "./helpers.ts";

export const holder: Address = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

/** A small PDF whose bytes say `label`, so each fixture document has its own CID. */
export const pdfBytes = (label: string) => new TextEncoder().encode(`%PDF-1.7\n% ${label}\n%%EOF\n`);

export type CertifiedDocument = { tokenId: number; metadataCid: string; documentCid: string; bytes: Uint8Array };

/**
 * Certificates on the test's anvil, as the operator (an issuer since deployment) writes them, with the rows the
 * indexer and `certificates.create` would write beside them.
 */
export function certificateFixtures(api: TestApi) {
  const transport = http(api.anvil.rpcUrl);
  const chain = createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
  const operator = createWalletClient({
    chain: foundry,
    transport,
    account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
  });
  const registry = api.deployment.contracts.CertificateRegistry.address;
  const issuerAddress = operator.account.address.toLowerCase() as Address;

  async function issue(cid: string, expiresAt: Date | null = null) {
    const hash = await operator.writeContract({
      address: registry,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [holder, cid, expiresAt ? BigInt(Math.floor(expiresAt.getTime() / 1000)) : 0n],
    });
    const receipt = await chain.waitForTransactionReceipt({ hash });
    const [issued] = parseEventLogs({
      abi: certificateRegistryAbi,
      logs: receipt.logs,
      eventName: "CertificateIssued",
    });
    return { tokenId: Number(issued?.args.tokenId), blockNumber: Number(receipt.blockNumber), hash };
  }

  /** Issues on chain and writes the row the indexer would for it. */
  async function issueIndexed(cid: string, expiresAt: Date | null = null): Promise<number> {
    const { tokenId, blockNumber, hash } = await issue(cid, expiresAt);
    const block = await chain.getBlock({ blockNumber: BigInt(blockNumber) });
    const blockHash = block.hash as Hex;
    await api.deps.db.insert(certificates).values({
      tokenId,
      ownerAddress: holder,
      issuerAddress,
      ipfsHash: cid,
      status: "valid",
      issuedAt: new Date(Number(block.timestamp) * 1000),
      expiresAt,
      issueTxHash: hash,
      issuedBlockNumber: blockNumber,
      blockNumber,
      blockHash,
      logIndex: 0,
    });
    return tokenId;
  }

  return {
    chain,
    issue,
    issueIndexed,

    /**
     * What `certificates.create` and the indexer leave behind for a certified document: the document and its metadata
     * in the content store, the document → metadata row, the token on chain and its indexed row.
     */
    async certifyDocument(
      bytes: Uint8Array,
      options: { expiresAt?: Date | null; recipientName?: string } = {},
    ): Promise<CertifiedDocument> {
      const expiresAt = options.expiresAt ?? null;
      const stored = await storeCertificateMetadata(api.deps.storage, {
        name: "BSc Computer Science",
        description: "Awarded with honours",
        issuer: { address: issuerAddress, name: "Example University" },
        recipient: { name: options.recipientName ?? "Alice Example", address: holder },
        issuedAt: new Date(),
        expiresAt,
        document: { bytes, contentType: "application/pdf" },
      });
      await api.deps.db.insert(certificateDocuments).values({
        documentCid: stored.documentCid,
        metadataCid: stored.metadataCid,
        documentSha256: stored.metadata.document_sha256,
      });
      const tokenId = await issueIndexed(stored.metadataCid, expiresAt);
      return { tokenId, metadataCid: stored.metadataCid, documentCid: stored.documentCid, bytes };
    },

    /** Revokes on chain and updates the indexed row as the indexer would. */
    async revoke(tokenId: number, reason: string): Promise<void> {
      const hash = await operator.writeContract({
        address: registry,
        abi: certificateRegistryAbi,
        functionName: "revoke",
        args: [BigInt(tokenId), reason],
      });
      const receipt = await chain.waitForTransactionReceipt({ hash });
      const block = await chain.getBlock({ blockNumber: receipt.blockNumber });
      await api.deps.db
        .update(certificates)
        .set({
          status: "invalid",
          revokedAt: new Date(Number(block.timestamp) * 1000),
          revokedByAddress: issuerAddress,
          revocationReason: reason,
          blockNumber: Number(receipt.blockNumber),
          blockHash: receipt.blockHash,
        })
        .where(eq(certificates.tokenId, tokenId));
    },

    /** Moves chain time forward (and mines a block), so expiries pass. */
    async advanceTime(seconds: number): Promise<void> {
      await chain.request({ method: "evm_increaseTime" as never, params: [seconds] as never });
      await chain.request({ method: "evm_mine" as never, params: [] as never });
    },
  };
}
