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
  registry: Address,
  tokenId: number,
): Promise<OnChainCertificate | null> {
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
  const call = { address: registry, abi: certificateRegistryAbi, args: [BigInt(tokenId)], blockNumber } as const;
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
  return {
    tokenId,
    issuer: record.value.issuer.toLowerCase() as Address,
    owner: owner.value.toLowerCase() as Address,
    cid: record.value.cid,
    issuedAt: new Date(Number(record.value.issuedAt) * 1000),
    expiresAt: fromUnixSeconds(record.value.expiresAt),
    revokedAt: fromUnixSeconds(record.value.revokedAt),
    valid: valid.value,
    blockNumber: Number(blockNumber),
  };
}
