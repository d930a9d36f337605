import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { certificates } from "@certchain/db";
import { eq } from "drizzle-orm";
import { type Address, createPublicClient, createWalletClient, http, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
const holder = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
let registry: Address;
let operator: ReturnType<typeof createWalletClient>;
let publicClient: ReturnType<typeof createPublicClient>;

beforeAll(async () => {
  api = await createTestApi();
  registry = api.deployment.contracts.CertificateRegistry.address;
  const transport = http(api.anvil.rpcUrl);
  publicClient = createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
  operator = createWalletClient({
    chain: foundry,
    transport,
    account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
  });
});
afterAll(() => api.close());

/** Issues on chain as the operator (an issuer since deployment) and returns the token id and block. */
async function issueCertificate(cid: string, expiresAt = 0n): Promise<{ tokenId: number; blockNumber: number }> {
  const hash = await operator.writeContract({
    address: registry,
    abi: certificateRegistryAbi,
    functionName: "issue",
    args: [holder, cid, expiresAt],
    account: operator.account ?? null,
    chain: foundry,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, logs: receipt.logs, eventName: "CertificateIssued" });
  return { tokenId: Number(issued?.args.tokenId), blockNumber: Number(receipt.blockNumber) };
}

/** The row the indexer would write for it, with `overrides` to simulate a wrong index. */
async function indexAs(tokenId: number, blockNumber: number, cid: string, overrides = {}) {
  const hex = `0x${tokenId.toString(16).padStart(64, "0")}` as const;
  await api.deps.db.insert(certificates).values({
    tokenId,
    ownerAddress: holder,
    issuerAddress: operator.account?.address.toLowerCase() as Address,
    ipfsHash: cid,
    status: "valid",
    issuedAt: new Date(),
    issueTxHash: hex,
    issuedBlockNumber: blockNumber,
    blockNumber,
    blockHash: hex,
    logIndex: 0,
    ...overrides,
  });
}

const verify = async (tokenId: number) => (await api.query("certificates.verify", { tokenId })).body.result.data;

describe("certificates.verify", () => {
  test("default: a valid certificate, read from the chain, matching its indexed row", async () => {
    const { tokenId, blockNumber } = await issueCertificate("bafkreivalid");
    await indexAs(tokenId, blockNumber, "bafkreivalid");
    const result = await verify(tokenId);
    expect(result).toMatchObject({
      verdict: "valid",
      onChain: { owner: holder, cid: "bafkreivalid", tokenUri: "ipfs://bafkreivalid", revokedAt: null },
      confirmations: 1,
      index: { state: "match", mismatches: [] },
    });
  });

  test("behavior: not yet indexed is said so, with the chain's verdict", async () => {
    const { tokenId } = await issueCertificate("bafkreifresh");
    expect(await verify(tokenId)).toMatchObject({
      verdict: "valid",
      confirmations: null,
      index: { state: "not_indexed" },
    });
  });

  test("behavior: a revocation the index has not seen is reported as a mismatch, not hidden", async () => {
    const { tokenId, blockNumber } = await issueCertificate("bafkreirevoked");
    await indexAs(tokenId, blockNumber, "bafkreirevoked");
    const hash = await operator.writeContract({
      address: registry,
      abi: certificateRegistryAbi,
      functionName: "revoke",
      args: [BigInt(tokenId), "issued in error"],
      account: operator.account ?? null,
      chain: foundry,
    });
    await publicClient.waitForTransactionReceipt({ hash });
    const result = await verify(tokenId);
    expect(result.verdict).toBe("revoked");
    expect(result.revocationReason).toBe("issued in error");
    expect(result.onChain.revokedAt).not.toBeNull();
    expect(result.index).toEqual({ state: "mismatch", mismatches: ["revocation: indexed valid, on chain revoked"] });
  });

  test("behavior: a wrong indexed owner is named field by field", async () => {
    const { tokenId, blockNumber } = await issueCertificate("bafkreiowner");
    await indexAs(tokenId, blockNumber, "bafkreiowner", { ownerAddress: "0x0000000000000000000000000000000000000bad" });
    const result = await verify(tokenId);
    expect(result.index.state).toBe("mismatch");
    expect(result.index.mismatches).toEqual([
      `owner: indexed 0x0000000000000000000000000000000000000bad, on chain ${holder}`,
    ]);
  });

  test("behavior: an expired certificate is expired once chain time passes its expiry", async () => {
    const block = await publicClient.getBlock();
    const { tokenId } = await issueCertificate("bafkreiexpiring", block.timestamp + 100n);
    expect((await verify(tokenId)).verdict).toBe("valid");
    await publicClient.request({ method: "evm_increaseTime" as never, params: [200] as never });
    await publicClient.request({ method: "evm_mine" as never, params: [] as never });
    expect((await verify(tokenId)).verdict).toBe("expired");
  });

  test("behavior: a token id never issued is unknown, and an index row for it is a mismatch", async () => {
    expect(await verify(9_999)).toMatchObject({ verdict: "unknown", onChain: null, index: { state: "match" } });
    await indexAs(9_998, 1, "bafkreighost");
    expect((await verify(9_998)).index).toEqual({
      state: "mismatch",
      mismatches: ["indexed, but the registry has no such certificate"],
    });
    await api.deps.db.delete(certificates).where(eq(certificates.tokenId, 9_998));
  });
});
