import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, repoRoot } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { certificateRegistryAbi, deploymentPath, readDeployment } from "@certchain/contracts";
import { withDatabase } from "@certchain/db";
import mysql from "mysql2/promise";
import { createPublicClient, http } from "viem";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

/** Resolves with everything printed so far once `pattern` appears in the output. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dev exited with ${code}; output:\n${output}`));
    });
  });
}

describe("npm run dev", () => {
  const chainId = 900_000 + Math.floor(Math.random() * 90_000);
  const databaseName = `certchain_devtest_${process.pid}`;
  const databaseUrl = withDatabase(loadConfig().databaseUrl, databaseName);
  let rpcUrl: string;
  let apiUrl: string;
  let dev: ChildProcess;
  let output: string;

  beforeAll(async () => {
    rpcUrl = `http://127.0.0.1:${await freePort()}`;
    const ports = { API_PORT: await freePort(), INDEXER_PORT: await freePort(), RELAYER_PORT: await freePort() };
    apiUrl = `http://127.0.0.1:${ports.API_PORT}`;
    dev = spawn(join(repoRoot, "node_modules/.bin/tsx"), ["scripts/dev.ts", "--fresh"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
        DATABASE_URL: databaseUrl,
        ETH_NODE_URL: rpcUrl,
        CHAIN_ID: String(chainId),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    output = await waitForOutput(dev, /stack is up/, 90_000);
  }, 120_000);

  afterAll(async () => {
    if (dev && dev.exitCode === null) {
      const exited = new Promise((resolve) => dev.once("exit", resolve));
      dev.kill("SIGINT");
      await exited;
    }
    rmSync(deploymentPath(chainId), { force: true });
    rmSync(join(repoRoot, ".certchain", `anvil-${chainId}.json`), { force: true });
    const connection = await mysql.createConnection(databaseUrl).catch(() => null);
    await connection?.query(`DROP DATABASE IF EXISTS \`${databaseName}\``);
    await connection?.end();
  });

  test("behavior: it starts anvil, migrates and deploys, and says so", () => {
    expect(output).toContain(`anvil is running at ${rpcUrl} (chain ${chainId}`);
    expect(output).toContain("database schema is up to date");
    expect(output).toMatch(/deployed CertificateRegistry at 0x[0-9a-fA-F]{40}/);
  });

  test("behavior: a second terminal reads the deployment and calls isValid through viem", async () => {
    const deployment = readDeployment(chainId);
    const client = createPublicClient({ transport: http(rpcUrl) });
    expect(await client.getChainId()).toBe(chainId);
    const valid = await client.readContract({
      address: deployment.contracts.CertificateRegistry.address,
      abi: certificateRegistryAbi,
      functionName: "isValid",
      args: [1n],
    });
    // No certificate has been issued on this fresh chain yet.
    expect(valid).toBe(false);
  });

  test("behavior: the schema is migrated into the configured database", async () => {
    const connection = await mysql.createConnection(databaseUrl);
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
      [databaseName],
    );
    await connection.end();
    expect(rows.map((row) => row.name)).toEqual(expect.arrayContaining(["users", "transactions", "certificates"]));
  });

  test("behavior: every app under apps/ is started and answers its health probe", async () => {
    // Apps log "listening" asynchronously after the stack line; give them a few seconds.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = await fetch(`${apiUrl}/healthz`).then(
        (response) => response.status,
        () => 0,
      );
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status).toBe(200);
  });

  test("behavior: Ctrl-C stops the apps and anvil", async () => {
    const exited = new Promise<number | null>((resolve) => dev.once("exit", resolve));
    dev.kill("SIGINT");
    expect(await exited).toBe(0);
    const answers = (url: string) =>
      fetch(url, { method: "POST", body: "{}" }).then(
        () => true,
        () => false,
      );
    expect(await answers(rpcUrl)).toBe(false);
    expect(await answers(`${apiUrl}/healthz`)).toBe(false);
  });
});
