import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { type Anvil, startAnvil } from "@certchain/contracts/anvil";
import { indexerCursor, newTxRequestId, txRequests } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { afterAll, beforeAll, expect, test } from "vitest";

/** `npm run status` against a real database, chain and Redis, with daemons up or down as an operator would meet them. */
let database: TestDatabase;
let anvil: Anvil;
let readyApi: Server;
const ports = { api: 0, indexer: 0, relayer: 0 };

beforeAll(async () => {
  [database, anvil] = await Promise.all([createTestDatabase(), startAnvil()]);
  ports.api = await freePort();
  ports.indexer = await freePort();
  ports.relayer = await freePort();
});
afterAll(async () => {
  readyApi?.close();
  await Promise.all([database.drop(), anvil.stop()]);
});

/** Runs the command without blocking this process, which serves the fake ready API. */
function status(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    DATABASE_URL: database.url,
    ETH_NODE_URL: anvil.rpcUrl,
    REDIS_PREFIX: `test-status-${process.pid}`,
    API_PORT: String(ports.api),
    INDEXER_PORT: String(ports.indexer),
    RELAYER_PORT: String(ports.relayer),
  };
  return new Promise((resolve) => {
    execFile(
      join(repoRoot, "node_modules/.bin/tsx"),
      ["scripts/status.ts", ...args],
      { cwd: repoRoot, env, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test("error: with the daemons down it says so for each, and exits 1", async () => {
  const result = await status();
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/chain\s+head \d+/);
  expect(result.stdout).toMatch(/indexer\s+has not indexed anything yet · readyz down/);
  expect(result.stdout).toMatch(/relayer\s+queue waiting 0 · active 0 · delayed 0 · failed 0 · readyz down/);
  expect(result.stdout).toMatch(/requests\s+last hour: 0 confirmed, 0 failed, 0 in flight/);
});

test("default: shows the indexer's lag, the hour's outcomes with failure reasons, and a ready API", async () => {
  const hash = `0x${"ab".repeat(32)}` as const;
  await database.db
    .insert(indexerCursor)
    .values({ chainId: 31337, blockNumber: 0, blockHash: hash, finalizedBlockNumber: 0 });
  await database.db.insert(txRequests).values([
    {
      id: newTxRequestId(),
      idempotencyKey: "status-1",
      kind: "issue",
      payload: {},
      status: "failed",
      errorCode: "NotIssuer",
    },
    { id: newTxRequestId(), idempotencyKey: "status-2", kind: "issue", payload: {}, status: "confirmed" },
    { id: newTxRequestId(), idempotencyKey: "status-3", kind: "issue", payload: {}, status: "sent" },
  ]);
  await fetch(anvil.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_mine", params: ["0x3"] }),
  });
  readyApi = createServer((_request, response) => response.writeHead(200).end('{"status":"ready"}'));
  await new Promise<void>((resolve) => readyApi.listen(ports.api, "127.0.0.1", resolve));

  const result = await status();
  expect(result.stdout).toMatch(/indexer\s+block 0 \(lag 3, finalized 0\)/);
  expect(result.stdout).toMatch(/last hour: 1 confirmed, 1 failed \(NotIssuer ×1\), 1 in flight/);
  expect(result.stdout).toMatch(/api\s+readyz ready/);
  const json = JSON.parse((await status("--json")).stdout);
  expect(json).toMatchObject({ healthy: false, daemons: { api: { state: "ready" }, indexer: { state: "down" } } });
});
