import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, UserFacingError } from "@certchain/common";
import { createPublicClient, http } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type Anvil, startAnvil } from "../src/anvil.ts";
import { ensureDeployment } from "../src/deploy.ts";
import { deploymentPath, readDeployment } from "../src/deployments.ts";

const CHAIN_ID = 31337;
const operator = privateKeyToAddress(ANVIL_ACCOUNT_0_PRIVATE_KEY);
const packageDir = new URL("..", import.meta.url).pathname;

let anvil: Anvil;
let deploymentsDir: string;

beforeAll(async () => {
  anvil = await startAnvil();
});
afterAll(async () => {
  await anvil.stop();
});
beforeEach(() => {
  deploymentsDir = mkdtempSync(join(tmpdir(), "certchain-deployments-"));
});
afterEach(() => {
  rmSync(deploymentsDir, { recursive: true, force: true });
});

const options = (rpcUrl: string) => ({
  rpcUrl,
  chainId: CHAIN_ID,
  operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  deploymentsDir,
});

const operatorNonce = (rpcUrl: string) =>
  createPublicClient({ transport: http(rpcUrl) }).getTransactionCount({ address: operator });

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

describe("ensureDeployment", () => {
  test("default: deploys all three contracts and writes the deployments file", async () => {
    const { deployment, path, reused } = await ensureDeployment(options(anvil.rpcUrl));

    expect(reused).toBe(false);
    expect(path).toBe(deploymentPath(CHAIN_ID, deploymentsDir));
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(deployment);
    expect(readDeployment(CHAIN_ID, deploymentsDir)).toEqual(deployment);
    expect(deployment.chainId).toBe(CHAIN_ID);
    for (const contract of Object.values(deployment.contracts)) {
      expect(contract.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect(contract.blockNumber).toBeGreaterThan(0);
    }
  });

  test("behavior: a second run reuses the deployment without sending a transaction", async () => {
    const first = await ensureDeployment(options(anvil.rpcUrl));
    const nonceBefore = await operatorNonce(anvil.rpcUrl);

    const second = await ensureDeployment(options(anvil.rpcUrl));

    expect(second.reused).toBe(true);
    expect(second.deployment).toEqual(first.deployment);
    expect(await operatorNonce(anvil.rpcUrl)).toBe(nonceBefore);
  });

  test("behavior: a fresh chain with a file from an earlier one redeploys", async () => {
    await ensureDeployment(options(anvil.rpcUrl));
    const fresh = await startAnvil();
    try {
      const { reused } = await ensureDeployment(options(fresh.rpcUrl));
      expect(reused).toBe(false);
      expect(await operatorNonce(fresh.rpcUrl)).toBeGreaterThan(0);
    } finally {
      await fresh.stop();
    }
  });

  test("behavior: contracts running other code than the current build are redeployed", async () => {
    const { deployment, path } = await ensureDeployment(options(anvil.rpcUrl));
    // Point the file's Marketplace at the payment token: code is there, but not the marketplace's.
    const { contracts } = deployment;
    const tampered = { ...deployment, contracts: { ...contracts, Marketplace: contracts.PaymentToken } };
    writeFileSync(path, JSON.stringify(tampered));

    const { reused, deployment: redeployed } = await ensureDeployment(options(anvil.rpcUrl));

    expect(reused).toBe(false);
    expect(redeployed.contracts.Marketplace.address).not.toBe(contracts.PaymentToken.address);
  });

  test("error: a node on another chain", async () => {
    await expect(ensureDeployment({ ...options(anvil.rpcUrl), chainId: 1 })).rejects.toThrow(
      `the Ethereum node at ${anvil.rpcUrl} (ETH_NODE_URL) is on chain ${CHAIN_ID}, but CHAIN_ID is 1`,
    );
  });

  test("error: an unreachable node is one line naming the URL and the setting", async () => {
    const rpcUrl = `http://127.0.0.1:${await closedPort()}`;
    const failure = ensureDeployment(options(rpcUrl));
    await expect(failure).rejects.toBeInstanceOf(UserFacingError);
    await expect(failure).rejects.toThrow(
      new UserFacingError(`cannot reach the Ethereum node at ${rpcUrl} (ETH_NODE_URL): connection refused`),
    );
  });
});

describe("npm run contracts:deploy", () => {
  test("error: an unreachable node prints one line and exits 1", async () => {
    const rpcUrl = `http://127.0.0.1:${await closedPort()}`;
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/deploy.ts"], {
      cwd: packageDir,
      env: { ...process.env, ETH_NODE_URL: rpcUrl, CHAIN_ID: String(CHAIN_ID) },
    });
    const failure = await run.then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trimEnd().split("\n")).toEqual([
      `contracts:deploy: cannot reach the Ethereum node at ${rpcUrl} (ETH_NODE_URL): connection refused`,
    ]);
  });
});
