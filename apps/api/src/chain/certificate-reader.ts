import { certificateRegistryAbi } from "@certchain/contracts";
import { type Address, BaseError, ContractFunctionRevertedError, type PublicClient } from "viem";

/** A certificate as the registry reports it, all fields read at one block. */
export type OnChainCertificate = {
  tokenId: number;
  issuer: Address;
  owner: Address;
  cid: string;
  issuedAt: Date;
  /** null: never expires. */
  expiresAt: Date | null;
  /** null: not revoked. */
  revokedAt: Date | null;
  /** The reason given to `revoke`, from its event; null when not revoked. */
  revocationReason: string | null;
  /** `isValid` as the contract answers it at `blockNumber`. */
  valid: boolean;
  blockNumber: number;
};

const fromUnixSeconds = (seconds: bigint): Date | null => (seconds === 0n ? null : new Date(Number(seconds) * 1000));

function isUnknownCertificate(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return revert instanceof ContractFunctionRevertedError && revert.data?.errorName === "UnknownCertificate";
}

/**
 * Reads a certificate straight from the registry (not from our database), every call pinned to the same block so the
 * fields agree with each other. Returns null for a token id the registry has never issued.
 */
export async function readCertificateOnChain(
  client: PublicClient,
  registry: { address: Address; blockNumber: number },
  tokenId: number,
): Promise<OnChainCertificate | null> {
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
  const call = {
    address: registry.address,
    abi: certificateRegistryAbi,
    args: [BigInt(tokenId)],
    blockNumber,
  } as const;
  // allSettled, not all: for an unknown id `ownerOf` fails too (with ERC721NonexistentToken), and whichever failure
  // came first must not decide how the answer is read; the registry's own record decides.
  const [record, owner, valid] = await Promise.allSettled([
    client.readContract({ ...call, functionName: "certificate" }),
    client.readContract({ ...call, functionName: "ownerOf" }),
    client.readContract({ ...call, functionName: "isValid" }),
  ]);
  if (record.status === "rejected") {
    if (isUnknownCertificate(record.reason)) return null;
    throw record.reason;
  }
  if (owner.status === "rejected") throw owner.reason;
  if (valid.status === "rejected") throw valid.reason;
  const revokedAt = fromUnixSeconds(record.value.revokedAt);
  return {
    tokenId,
    issuer: record.value.issuer.toLowerCase() as Address,
    owner: owner.value.toLowerCase() as Address,
    cid: record.value.cid,
    issuedAt: new Date(Number(record.value.issuedAt) * 1000),
    expiresAt: fromUnixSeconds(record.value.expiresAt),
    revokedAt,
    revocationReason: revokedAt ? await readRevocationReason(client, registry, tokenId, blockNumber) : null,
    valid: valid.value,
    blockNumber: Number(blockNumber),
  };
}

/**
 * The contract keeps only the revocation time; the reason lives in the `CertificateRevoked` event. A token is revoked
 * at most once, and `tokenId` is an indexed topic, so this is one narrow log query from the registry's deployment.
 */
async function readRevocationReason(
  client: PublicClient,
  registry: { address: Address; blockNumber: number },
  tokenId: number,
  toBlock: bigint,
): Promise<string | null> {
  const [event] = await client.getContractEvents({
    address: registry.address,
    abi: certificateRegistryAbi,
    eventName: "CertificateRevoked",
    args: { tokenId: BigInt(tokenId) },
    fromBlock: BigInt(registry.blockNumber),
    toBlock,
  });
  return event?.args.reason ?? null;
}
