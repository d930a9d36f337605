import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  type Hash,
  http,
  type PublicClient,
  parseEther,
  parseEventLogs,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type Anvil,
  certificateRegistryAbi,
  DEFAULT_FEE_BPS,
  type Deployment,
  ensureDeployment,
  marketplaceAbi,
  startAnvil,
} from "../src/index.ts";

const CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

let anvil: Anvil;
let deploymentsDir: string;
let deployment: Deployment;
let publicClient: PublicClient;

const operator = privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY);
/** A certificate holder who is not the operator, funded for gas in `beforeAll`. */
const holder = privateKeyToAccount(generatePrivateKey());
const walletOf = (account: typeof operator) =>
  createWalletClient({ account, chain: foundry, transport: http(anvil.rpcUrl) });

beforeAll(async () => {
  anvil = await startAnvil();
  deploymentsDir = mkdtempSync(join(tmpdir(), "certchain-deployments-"));
  ({ deployment } = await ensureDeployment({
    rpcUrl: anvil.rpcUrl,
    chainId: foundry.id,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
    deploymentsDir,
  }));
  publicClient = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl), pollingInterval: 100 });
  await createTestClient({ mode: "anvil", chain: foundry, transport: http(anvil.rpcUrl) }).setBalance({
    address: holder.address,
    value: parseEther("10"),
  });
});

afterAll(async () => {
  await anvil.stop();
  rmSync(deploymentsDir, { recursive: true, force: true });
});

async function mined(hash: Hash) {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

/** The operator (an issuer since deployment) issues a certificate to `to`; resolves to its token id. */
async function issueCertificate(to: Address): Promise<bigint> {
  const registry = deployment.contracts.CertificateRegistry.address;
  const receipt = await mined(
    await walletOf(operator).writeContract({
      address: registry,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [to, CID, 0n],
    }),
  );
  const [issued] = parseEventLogs({ abi: certificateRegistryAbi, eventName: "CertificateIssued", logs: receipt.logs });
  if (!issued) throw new Error("no CertificateIssued event");
  return issued.args.tokenId;
}

describe("CertificateRegistry through the exported ABI", () => {
  test("default: an issued certificate is valid and points at its CID", async () => {
    const tokenId = await issueCertificate(holder.address);
    const registry = { address: deployment.contracts.CertificateRegistry.address, abi: certificateRegistryAbi };

    expect(await publicClient.readContract({ ...registry, functionName: "isValid", args: [tokenId] })).toBe(true);
    expect(await publicClient.readContract({ ...registry, functionName: "tokenURI", args: [tokenId] })).toBe(
      `ipfs://${CID}`,
    );
    expect(await publicClient.readContract({ ...registry, functionName: "ownerOf", args: [tokenId] })).toBe(
      holder.address,
    );
    const record = await publicClient.readContract({ ...registry, functionName: "certificate", args: [tokenId] });
    expect(record).toMatchObject({ issuer: operator.address, cid: CID, expiresAt: 0n, revokedAt: 0n });
  });

  test("behavior: revoking makes the certificate invalid and emits CertificateRevoked", async () => {
    const tokenId = await issueCertificate(holder.address);
    const registry = { address: deployment.contracts.CertificateRegistry.address, abi: certificateRegistryAbi };

    const receipt = await mined(
      await walletOf(operator).writeContract({
        ...registry,
        functionName: "revoke",
        args: [tokenId, "issued in error"],
      }),
    );

    const [revoked] = parseEventLogs({
      abi: certificateRegistryAbi,
      eventName: "CertificateRevoked",
      logs: receipt.logs,
    });
    expect(revoked?.args).toEqual({ tokenId, revokedBy: operator.address, reason: "issued in error" });
    expect(await publicClient.readContract({ ...registry, functionName: "isValid", args: [tokenId] })).toBe(false);
    expect(await publicClient.readContract({ ...registry, functionName: "isRevoked", args: [tokenId] })).toBe(true);
  });
});

describe("Marketplace through the exported ABI", () => {
  test("default: a holder lists a certificate and a buyer pays in ETH", async () => {
    const tokenId = await issueCertificate(holder.address);
    const registry = { address: deployment.contracts.CertificateRegistry.address, abi: certificateRegistryAbi };
    const market = { address: deployment.contracts.Marketplace.address, abi: marketplaceAbi };
    const price = parseEther("1");

    await mined(
      await walletOf(holder).writeContract({ ...registry, functionName: "approve", args: [market.address, tokenId] }),
    );
    const listed = await mined(
      await walletOf(holder).writeContract({
        ...market,
        functionName: "list",
        args: [tokenId, "0x0000000000000000000000000000000000000000", price],
      }),
    );
    const [listing] = parseEventLogs({ abi: marketplaceAbi, eventName: "Listed", logs: listed.logs });
    if (!listing) throw new Error("no Listed event");

    await mined(
      await walletOf(operator).writeContract({
        ...market,
        functionName: "buy",
        args: [listing.args.listingId, price],
        value: price,
      }),
    );

    expect(await publicClient.readContract({ ...registry, functionName: "ownerOf", args: [tokenId] })).toBe(
      operator.address,
    );
    const fee = (price * BigInt(DEFAULT_FEE_BPS)) / 10_000n;
    expect(
      await publicClient.readContract({
        ...market,
        functionName: "proceeds",
        args: [holder.address, "0x0000000000000000000000000000000000000000"],
      }),
    ).toBe(price - fee);
  });
});
