/**
 * `npm run dev`: the whole local stack in one terminal. Checks (and if needed starts) MySQL and Redis, starts anvil
 * unless ETH_NODE_URL already answers, migrates the schema, deploys the contracts (or reuses the deployment), then
 * runs every app under `apps/` that has a `start` script, with prefixed logs. Ctrl-C stops everything.
 *
 * `npm run dev -- --fresh` starts over: a new chain and an empty database (rows, users and wallets all refer to the
 * old chain, so keeping either half would leave them out of step).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig, repoRoot, runMain, UserFacingError } from "@certchain/common";
import { ensureDeployment } from "@certchain/contracts";
import { anvilBinaryPath } from "@certchain/contracts/anvil";
import { createDb, migrateDatabase, parseDatabaseUrl } from "@certchain/db";
import { anvilLines, createPrefixer, type ManagedProcess, startProcess, stopProcess } from "./lib/processes.ts";
import { ensureServices } from "./lib/services.ts";

const STATE_DIR = join(repoRoot, ".certchain");
/** anvil keeps the chain here between runs so the database and the chain stay in step. */
const anvilStatePath = (chainId: number) => join(STATE_DIR, `anvil-${chainId}.json`);
const CHAIN_START_TIMEOUT_MS = 15_000;

type App = { name: string; workspace: string };

/** Apps present in this checkout that can be started (later issues add theirs). */
function discoverApps(): App[] {
  const appsDir = join(repoRoot, "apps");
  if (!existsSync(appsDir)) return [];
  return readdirSync(appsDir)
    .sort()
    .flatMap((dir) => {
      const manifest = join(appsDir, dir, "package.json");
      if (!existsSync(manifest)) return [];
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name: string; scripts?: Record<string, string> };
      return pkg.scripts?.start ? [{ name: dir, workspace: pkg.name }] : [];
    });
}

async function chainIdAt(url: string): Promise<number | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(2_000),
    });
    const body = (await response.json()) as { result?: string };
    return body.result ? Number(body.result) : null;
  } catch {
    return null;
  }
}

/** Uses the node at ETH_NODE_URL when it answers; otherwise starts anvil on that port. */
async function ensureChain(
  config: Config,
  log: (message: string) => void,
  start: (name: string, command: string, args: string[], show?: (line: string) => boolean) => ManagedProcess,
): Promise<void> {
  const running = await chainIdAt(config.ethNodeUrl);
  if (running !== null) {
    if (running !== config.chainId) {
      throw new UserFacingError(
        `the node at ${config.ethNodeUrl} (ETH_NODE_URL) has chain id ${running}, but CHAIN_ID is ${config.chainId}`,
      );
    }
    log(`using the node already running at ${config.ethNodeUrl} (chain ${running})`);
    return;
  }
  const url = new URL(config.ethNodeUrl);
  if (!["127.0.0.1", "localhost"].includes(url.hostname)) {
    throw new UserFacingError(`cannot reach the Ethereum node at ${config.ethNodeUrl} (ETH_NODE_URL)`);
  }
  mkdirSync(STATE_DIR, { recursive: true });
  const port = url.port || "8545";
  const anvil = start(
    "anvil",
    anvilBinaryPath(),
    [
      ...["--host", "127.0.0.1", "--port", port, "--chain-id", String(config.chainId)],
      // Load the previous run's chain and save it every few seconds and on exit.
      ...["--state", anvilStatePath(config.chainId), "--state-interval", "5"],
      // Transactions are mined at once, and an empty block follows every second, as on a real chain, so requests
      // reach FINALITY_DEPTH confirmations (`confirmed`) without anyone sending more transactions.
      ...["--block-time", "1", "--mixed-mining"],
      // anvil spills old block states to ~/.foundry/anvil/tmp and never deletes them; at a block a second that is
      // tens of GB a day. Keep a bounded number on disk (deep enough for any local reorg test).
      ...["--max-persisted-states", "256"],
    ],
    anvilLines(),
  );
  const deadline = Date.now() + CHAIN_START_TIMEOUT_MS;
  while ((await chainIdAt(config.ethNodeUrl)) === null) {
    if (anvil.child.exitCode !== null || Date.now() > deadline) {
      throw new UserFacingError(`anvil did not start on port ${port}; is the port taken by something else?`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  log(`anvil is running at ${config.ethNodeUrl} (chain ${config.chainId}, state in .certchain/)`);
}

/** Drops the configured database if it exists (for `--fresh`). */
async function dropDatabase(databaseUrl: string): Promise<void> {
  const { database } = parseDatabaseUrl(databaseUrl);
  const handle = createDb(databaseUrl, { poolSize: 1 });
  try {
    await handle.pool.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } catch (error) {
    // A database that does not exist yet is already as fresh as it gets.
    if ((error as { code?: string }).code !== "ER_BAD_DB_ERROR") throw error;
  } finally {
    await handle.close();
  }
}

runMain("dev", async () => {
  const config = loadConfig();
  const fresh = process.argv.includes("--fresh");

  const apps = discoverApps();
  const prefix = createPrefixer(["dev", "anvil", ...apps.map((app) => app.name)]);
  const log = (message: string) => console.log(`${prefix("dev")}${message}`);
  const running: ManagedProcess[] = [];
  let stopping = false;
  const start = (name: string, command: string, args: string[], show?: (line: string) => boolean) => {
    const managed = startProcess(name, prefix(name), command, args, show);
    running.push(managed);
    // Ctrl-C may land while we were starting it: it must not outlive the stack.
    if (stopping) void stopProcess(managed);
    return managed;
  };
  /** Apps first (they may still be writing to the chain), then anvil, which saves its state as it exits. */
  const stopAll = async () => {
    const [chain, apps] = [running.filter((m) => m.name === "anvil"), running.filter((m) => m.name !== "anvil")];
    await Promise.all(apps.map((managed) => stopProcess(managed)));
    await Promise.all(chain.map((managed) => stopProcess(managed)));
  };
  // Children run in their own process groups, so a closed terminal (SIGHUP) reaches only us: pass it on.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log("stopping…");
      void stopAll().then(() => process.exit(0));
    });
  }

  try {
    await ensureServices(config, log);
    if (fresh) {
      rmSync(anvilStatePath(config.chainId), { force: true });
      await dropDatabase(config.databaseUrl);
      log("--fresh: forgot the saved chain and dropped the database");
    }
    await ensureChain(config, log, start);
    await migrateDatabase(config.databaseUrl);
    log("database schema is up to date");
    const { deployment, reused } = await ensureDeployment({
      rpcUrl: config.ethNodeUrl,
      chainId: config.chainId,
      operatorPrivateKey: config.operatorPrivateKey,
      deploymentsDir: config.deploymentsDir,
    });
    for (const [name, { address, blockNumber }] of Object.entries(deployment.contracts)) {
      log(`${reused ? "reused" : "deployed"} ${name} at ${address} (block ${blockNumber})`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  if (apps.length === 0) log("no apps to start yet; the chain keeps running until Ctrl-C");
  for (const app of apps) start(app.name, "npm", ["run", "start", "--silent", "-w", app.workspace]);
  log(`stack is up: ${["anvil", ...apps.map((a) => a.name)].join(", ")}; Ctrl-C stops everything`);

  // The first process to die on its own takes the stack down, so a crash is never hidden in scrollback.
  const first = await Promise.race(running.map(async (managed) => ({ managed, code: await managed.exited })));
  if (stopping) return new Promise<void>(() => {});
  stopping = true;
  log(`${first.managed.name} exited (${first.code}); stopping the rest`);
  await stopAll();
  throw new UserFacingError(`${first.managed.name} stopped unexpectedly with ${first.code}`);
});
