import {
  type PrivateServer,
  privateServersUnavailable,
  startPrivateMariadb,
  startPrivateRedis,
} from "@certchain/common/testing";
import { certificateRegistryAbi } from "@certchain/contracts";
import { type TxRequest, txRequests } from "@certchain/db";
import { asc } from "drizzle-orm";
import { type Address, parseEther } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, expect, test } from "vitest";
import { OPERATOR, type Stack, startStack } from "./fixtures.ts";
import { type RelayerProcess, type RelayerProcessFactory, relayerProcesses } from "./processes.ts";

/**
 * Redis and MariaDB killed (SIGKILL) and restarted while the relayer, running as a process, works through a batch of
 * requests. Both servers are private to this file; the machine's shared ones are never touched. Redis keeps nothing on
 * disk, so it comes back empty: every job is gone and the requests' rows are all that is left. Whatever happens, each
 * request ends confirmed exactly once on chain, and no wallet's nonces have a gap.
 */

/** Long enough for failed steps, job retries and follower passes to pile up; short enough for the suite. */
const OUTAGE_MS = 3_000;
const REQUESTS_PER_RUN = 40;

let mariadb: PrivateServer;
let redis: PrivateServer;
let stack: Stack;
let factory: RelayerProcessFactory;
const running = new Set<RelayerProcess>();

beforeAll(async () => {
  [mariadb, redis] = await Promise.all([startPrivateMariadb(), startPrivateRedis()]);
  stack = await startStack({}, { databaseServerUrl: mariadb.url, redisUrl: redis.url });
  factory = relayerProcesses(stack, { REDIS_URL: redis.url });
}, 60_000);

afterAll(async () => {
  for (const relayer of running) await relayer.kill9();
  factory?.dispose();
  if (mariadb && !mariadb.running) await mariadb.start().catch(() => undefined);
  if (redis && !redis.running) await redis.start().catch(() => undefined);
  await stack?.close();
  await Promise.all([mariadb?.dispose(), redis?.dispose()]);
});

// A failed test must not leave the next one without its servers.
beforeEach(async () => {
  if (!mariadb.running) await mariadb.start();
  if (!redis.running) await redis.start();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const recipient = (label: string, i: number) =>
  privateKeyToAddress(
    `0x${(label.charCodeAt(0) * 1_000_000 + i + 1).toString(16).padStart(64, "0")}`,
  ).toLowerCase() as Address;

/** Half certificates issued by the operator, half ETH transfers from three custodial wallets: two kinds of sender. */
async function submitBatch(label: string) {
  const wallets = [];
  for (let i = 0; i < 3; i += 1) {
    const wallet = await stack.createCustodialUser(`${label}w`);
    await stack.rpc("anvil_setBalance", [wallet.address, `0x${parseEther("100").toString(16)}`]);
    wallets.push(wallet);
  }
  const expiresAt = String(Math.floor(Date.now() / 1000) + 86_400);
  const ids: string[] = [];
  const cids: string[] = [];
  const transfers = new Map<Address, bigint>();
  for (let n = 0; n < REQUESTS_PER_RUN; n += 1) {
    if (n % 2 === 0) {
      const cid = `bafy-${label}-${n}`;
      cids.push(cid);
      ids.push(
        await stack.submit({
          idempotencyKey: `${label}${n}`,
          kind: "issue",
          payload: { to: OPERATOR, cid, expiresAt },
        }),
      );
    } else {
      const wallet = wallets[n % wallets.length] ?? wallets[0];
      if (!wallet) throw new Error("no wallets");
      const to = recipient(label, n);
      transfers.set(to, BigInt(n));
      ids.push(
        await stack.submit({
          userId: wallet.userId,
          from: wallet.address,
          idempotencyKey: `${label}${n}`,
          kind: "eth_transfer",
          payload: { to, amount: String(n) },
        }),
      );
    }
  }
  return { ids, cids, transfers, wallets: wallets.map((wallet) => wallet.address) };
}

/** How many of `ids` the relayer has taken to the chain (sent or further). */
async function countSent(ids: string[]): Promise<number> {
  const rows = await stack.database.db.select({ id: txRequests.id, status: txRequests.status }).from(txRequests);
  const ours = new Set(ids);
  return rows.filter((row) => ours.has(row.id) && !["queued", "signed"].includes(row.status)).length;
}

/** Every request confirmed, each certificate issued once, each transfer paid once, nonces without gaps. */
async function expectExactlyOnce(batch: Awaited<ReturnType<typeof submitBatch>>, fromBlock: bigint) {
  const rows = await stack.waitForFinal(batch.ids, 90_000);
  expect(rows.filter((row) => row.status !== "confirmed")).toEqual([]);
  const issued = await stack.client.getContractEvents({
    address: stack.deployment.contracts.CertificateRegistry.address,
    abi: certificateRegistryAbi,
    eventName: "CertificateIssued",
    fromBlock,
  });
  const onChain = issued
    .map((event) => (event.args as { cid?: string }).cid)
    .filter((cid) => batch.cids.includes(cid ?? ""));
  expect(onChain.sort()).toEqual([...batch.cids].sort());
  for (const [to, amount] of batch.transfers) expect(await stack.client.getBalance({ address: to }), to).toBe(amount);
  const all = await stack.database.db.select().from(txRequests).orderBy(asc(txRequests.id));
  await expectNoncesWithoutGaps(all, [OPERATOR, ...batch.wallets]);
}

/** Per wallet: nonces unique and contiguous, and the chain's nonce right after the last one (nothing waiting). */
async function expectNoncesWithoutGaps(rows: TxRequest[], wallets: Address[]) {
  for (const wallet of wallets) {
    const nonces = rows
      .filter((row) => row.fromAddress === wallet && row.nonce !== null)
      .map((row) => row.nonce as number)
      .sort((a, b) => a - b);
    expect(new Set(nonces).size, `${wallet}: a nonce used twice`).toBe(nonces.length);
    const latest = await stack.client.getTransactionCount({ address: wallet, blockTag: "latest" });
    const pending = await stack.client.getTransactionCount({ address: wallet, blockTag: "pending" });
    expect(pending, `${wallet}: transactions waiting behind a gap`).toBe(latest);
    expect(nonces.at(-1), `${wallet}: last nonce`).toBe(latest - 1);
    for (let i = 1; i < nonces.length; i += 1) expect(nonces[i], `${wallet}: nonce gap`).toBe((nonces[i - 1] ?? 0) + 1);
  }
}

/** Submits a batch, lets a relayer process start on it, kills `server` for a while, and checks the outcome. */
async function outageDuringBatch(label: string, server: PrivateServer) {
  const relayer = await factory.spawn();
  running.add(relayer);
  try {
    await relayer.waitReady();
    const fromBlock = await stack.client.getBlockNumber();
    const batch = await submitBatch(label);
    // Kill the server once the relayer is under way, with requests at every stage.
    const deadline = Date.now() + 30_000;
    while ((await countSent(batch.ids)) < REQUESTS_PER_RUN / 4) {
      if (Date.now() > deadline) throw new Error(`relayer did not start sending:\n${relayer.output()}`);
      await sleep(20);
    }
    const sentBefore = await countSent(batch.ids);
    await server.kill();
    await sleep(OUTAGE_MS);
    expect(relayer.child.exitCode, relayer.output()).toBeNull();
    await server.start();
    const restartedAt = Date.now();
    await expectExactlyOnce(batch, fromBlock);
    const finishedMs = Date.now() - restartedAt;
    await relayer.waitReady(10_000);
    console.info(
      `${server.name} down ${OUTAGE_MS} ms with ${sentBefore}/${batch.ids.length} requests sent: all confirmed exactly once ${finishedMs} ms after the restart`,
    );
    expect(await relayer.stop(), relayer.output()).toBe(0);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- relayer output ---\n${relayer.output()}`, { cause: error });
  } finally {
    await relayer.kill9();
    running.delete(relayer);
  }
}

test.skipIf(privateServersUnavailable())(
  "behavior: Redis killed and restarted empty while a batch is relayed: every request confirmed exactly once, no nonce gap",
  async () => {
    await outageDuringBatch("r", redis);
  },
  120_000,
);

test.skipIf(privateServersUnavailable())(
  "behavior: MariaDB killed and restarted while a batch is relayed: every request confirmed exactly once, no nonce gap",
  async () => {
    await outageDuringBatch("m", mariadb);
  },
  120_000,
);
