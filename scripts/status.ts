/**
 * `npm run status [-- --json]`: one screen on the whole stack, from the outside, as an operator checks it: the chain
 * head, where the indexer stands and how far behind, the relayer's queue, what the last hour's requests came to, and
 * each daemon's `/readyz`. Exits 1 when something is down or not ready, so it can gate a deploy script.
 */
import { parseArgs } from "node:util";
import { type Config, loadConfig, runMain } from "@certchain/common";
import { createDb, indexerCursor, txRequests } from "@certchain/db";
import { createRedis, TX_REQUESTS_QUEUE } from "@certchain/queue";
import { Queue } from "bullmq";
import { and, count, eq, gte, sql } from "drizzle-orm";
import { createPublicClient, http } from "viem";

const TIMEOUT_MS = 3_000;
const LIVE = ["queued", "signed", "sent", "mined"];

type Probe = { state: "ready" | "not ready" | "down"; detail?: string };

async function readyz(port: number): Promise<Probe> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (response.ok) return { state: "ready" };
    const body = (await response.json().catch(() => ({}))) as { reason?: string };
    return { state: "not ready", detail: body.reason ?? `HTTP ${response.status}` };
  } catch {
    return { state: "down", detail: `nothing answers on port ${port}` };
  }
}

/** Runs a probe; a failure becomes a short reason instead of ending the report. */
async function attempt<T>(probe: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await probe();
  } catch (error) {
    return { error: error instanceof Error ? (error.message.split("\n")[0] ?? "failed") : String(error) };
  }
}

export async function collectStatus(config: Config) {
  const client = createPublicClient({ transport: http(config.ethNodeUrl, { timeout: TIMEOUT_MS, retryCount: 0 }) });
  const database = createDb(config.databaseUrl, { poolSize: 2 });
  const redis = createRedis(config.redisUrl);
  const queue = new Queue(TX_REQUESTS_QUEUE, { connection: redis, prefix: config.redisPrefix });
  try {
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    const [head, cursor, jobs, lastHour, failures, api, indexer, relayer] = await Promise.all([
      attempt(async () => Number(await client.getBlockNumber())),
      attempt(async () => {
        const [row] = await database.db.select().from(indexerCursor).where(eq(indexerCursor.chainId, config.chainId));
        return row ?? null;
      }),
      attempt(() => queue.getJobCounts("waiting", "active", "delayed", "failed")),
      attempt(() =>
        database.db
          .select({ status: txRequests.status, n: count() })
          .from(txRequests)
          .where(gte(txRequests.updatedAt, hourAgo))
          .groupBy(txRequests.status),
      ),
      attempt(() =>
        database.db
          .select({ code: sql<string>`coalesce(${txRequests.errorCode}, 'unknown')`, n: count() })
          .from(txRequests)
          .where(and(eq(txRequests.status, "failed"), gte(txRequests.updatedAt, hourAgo)))
          .groupBy(sql`1`)
          .orderBy(sql`2 desc`)
          .limit(5),
      ),
      readyz(config.apiPort),
      readyz(config.indexerPort),
      readyz(config.relayerPort),
    ]);
    return { chainId: config.chainId, head, cursor, jobs, lastHour, failures, daemons: { api, indexer, relayer } };
  } finally {
    await queue.close();
    redis.disconnect();
    await database.close();
  }
}

type Status = Awaited<ReturnType<typeof collectStatus>>;
const failed = (value: unknown): value is { error: string } =>
  typeof value === "object" && value !== null && "error" in value;

export function formatStatus(status: Status): { lines: string[]; healthy: boolean } {
  const probe = (p: Probe) => (p.detail ? `${p.state} (${p.detail})` : p.state);
  const head = failed(status.head) ? `unreachable (${status.head.error})` : `head ${status.head}`;
  let indexer: string;
  if (failed(status.cursor)) indexer = `cursor unreadable (${status.cursor.error})`;
  else if (!status.cursor) indexer = "has not indexed anything yet";
  else {
    const lag = failed(status.head) ? "?" : String(status.head - status.cursor.blockNumber);
    indexer = `block ${status.cursor.blockNumber} (lag ${lag}, finalized ${status.cursor.finalizedBlockNumber})`;
  }
  const jobs = failed(status.jobs)
    ? `queue unreadable (${status.jobs.error})`
    : `queue waiting ${status.jobs.waiting} · active ${status.jobs.active} · delayed ${status.jobs.delayed} · failed ${status.jobs.failed}`;
  let requests: string;
  if (failed(status.lastHour) || failed(status.failures)) requests = "unreadable";
  else {
    const by = Object.fromEntries(status.lastHour.map((row) => [row.status, row.n]));
    const live = LIVE.reduce((sum, state) => sum + (by[state] ?? 0), 0);
    const reasons = status.failures.map((row) => `${row.code} ×${row.n}`).join(", ");
    requests = `${by.confirmed ?? 0} confirmed, ${by.failed ?? 0} failed${reasons ? ` (${reasons})` : ""}, ${live} in flight`;
  }
  const { api, indexer: indexerProbe, relayer } = status.daemons;
  const lines = [
    `certchain status · chain ${status.chainId} · ${new Date().toISOString()}`,
    `  chain     ${head}`,
    `  indexer   ${indexer} · readyz ${probe(indexerProbe)}`,
    `  relayer   ${jobs} · readyz ${probe(relayer)}`,
    `  api       readyz ${probe(api)}`,
    `  requests  last hour: ${requests}`,
  ];
  const healthy =
    !failed(status.head) && [api, indexerProbe, relayer].every((p) => p.state === "ready") && !failed(status.jobs);
  return { lines, healthy };
}

const { values } = parseArgs({ options: { json: { type: "boolean", default: false } } });
runMain("status", async () => {
  const status = await collectStatus(loadConfig());
  const { lines, healthy } = formatStatus(status);
  console.log(values.json ? JSON.stringify({ healthy, ...status }, null, 2) : lines.join("\n"));
  if (!healthy) process.exitCode = 1;
});
