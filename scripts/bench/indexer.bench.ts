/**
 * `npm run bench indexer`: the indexer's throughput and latency on a fresh anvil and a fresh database.
 *
 * 1. Generates ≥ 50,000 platform events (issues, transfers, listings, relistings, sales, revocations) across many
 *    blocks, sending transactions in bulk with automine off and mining every BLOCK_TXS of them.
 * 2. Backfill: time from start to the head indexed, in events/s and blocks/s. The acting accounts are registered as
 *    platform users with custodial wallets, as on the platform, so the indexer reads every block's receipts (it looks
 *    for ETH transfers of platform wallets) rather than only the blocks with platform logs.
 * 3. Realtime: latency from a block mined (its transaction's send returning, automine on) to its row visible in
 *    MySQL, over 200 blocks, with newHeads (ETH_WS_URL) and with polling only.
 * 4. Reorg: time from `anvil_reorg` to the tables corrected.
 */
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, createLogger, createShutdown } from "@certchain/common";
import {
  anvilPoolSettled,
  certificateRegistryAbi,
  type Deployment,
  deployContracts,
  marketplaceAbi,
  startAnvil,
} from "@certchain/contracts";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { type Address, createPublicClient, encodeFunctionData, type Hex, http, webSocket } from "viem";
import { createIndexer, createMetrics, type Indexer } from "../../apps/indexer/src/index.ts";
import type { Benchmark, BenchmarkResult } from "./types.ts";

const ISSUES = 12_000;
const TRANSFERS = 5_000;
const LISTINGS = 6_000;
const RELISTINGS = 2_000;
const SALES = 3_000;
const REVOCATIONS = 3_000;
/** Transactions per mined block. */
const BLOCK_TXS = 40;
const LATENCY_BLOCKS = 200;
const POLL_INTERVAL_MS = 100;
const FINALITY_DEPTH = 12;
const PRICE = 10n ** 15n;

type Send = { from: Address; to: Address; data: Hex; value?: bigint; gas: bigint };

export const benchmark: Benchmark = {
  name: "indexer",
  async run() {
    const anvil = await startAnvil({ args: ["--accounts", "12", "--balance", "1000000"] });
    const databases: TestDatabase[] = [];
    try {
      const client = createPublicClient({
        transport: http(anvil.rpcUrl, { batch: { batchSize: 500 }, timeout: 120_000 }),
      });
      const deployment = await deployContracts({
        rpcUrl: anvil.rpcUrl,
        chainId: 31337,
        operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
      });
      const generated = await generateActivity(client, deployment);
      const head = Number(await client.getBlockNumber());
      // Count what is really on chain (a reverted transaction would have emitted nothing).
      let onChain = 0;
      const addresses = Object.values(deployment.contracts).map((c) => c.address);
      for (let from = 0; from <= head; from += 100) {
        const logs = await client.getLogs({
          address: addresses,
          fromBlock: BigInt(from),
          toBlock: BigInt(Math.min(head, from + 99)),
        });
        onChain += logs.length;
      }
      process.stderr.write(`bench: generated ${onChain} events (${generated.events} planned) in ${head} blocks\n`);
      generated.events = onChain;

      // Backfill.
      const backfillDb = await createTestDatabase({ prefix: "certchain_bench", poolSize: 4 });
      databases.push(backfillDb);
      await registerWallets(backfillDb, (await client.request({ method: "eth_accounts" } as never)) as Address[]);
      const backfill = makeIndexer(anvil.rpcUrl, undefined, backfillDb, deployment, POLL_INTERVAL_MS);
      const started = performance.now();
      const running = backfill.run();
      await waitFor(() => backfill.status().indexedBlock === head, 600_000);
      const seconds = (performance.now() - started) / 1000;

      // Realtime, with newHeads and then polling only, on the same (caught-up) database.
      const results: BenchmarkResult[] = [
        { metric: "events generated", value: generated.events, unit: "events", note: `${head} blocks` },
        {
          metric: "backfill",
          value: Math.round(generated.events / seconds),
          unit: "events/s",
          note: `${seconds.toFixed(2)} s`,
        },
        { metric: "backfill", value: Math.round(head / seconds), unit: "blocks/s" },
      ];
      await backfill.stop();
      await running;
      for (const mode of ["ws", "polling"] as const) {
        const indexer = makeIndexer(
          anvil.rpcUrl,
          mode === "ws" ? anvil.wsUrl : undefined,
          backfillDb,
          deployment,
          POLL_INTERVAL_MS,
        );
        const run = indexer.run();
        await waitFor(async () => indexer.status().indexedBlock === Number(await client.getBlockNumber()), 60_000);
        const latencies = await measureLatency(client, anvil.wsUrl, deployment, backfillDb);
        const note = mode === "ws" ? "newHeads" : `polling every ${POLL_INTERVAL_MS} ms`;
        results.push(
          { metric: `realtime p50 (${mode})`, value: percentile(latencies, 0.5), unit: "ms", note },
          { metric: `realtime p99 (${mode})`, value: percentile(latencies, 0.99), unit: "ms", note },
        );
        if (mode === "ws") results.push(await measureReorg(client, indexer));
        await indexer.stop();
        await run;
      }
      return results;
    } finally {
      await Promise.all(databases.map((d) => d.drop()));
      await anvil.stop();
    }
  },
};

function makeIndexer(
  rpcUrl: string,
  wsUrl: string | undefined,
  database: TestDatabase,
  deployment: Deployment,
  pollIntervalMs: number,
): Indexer {
  const config = {
    databaseUrl: database.url,
    ethNodeUrl: rpcUrl,
    ethWsUrl: wsUrl,
    chainId: 31337,
    finalityDepth: FINALITY_DEPTH,
    dbPoolSize: undefined,
    dbSlowQueryMs: 0,
  };
  const common = {
    config,
    logger: createLogger({ logLevel: "warn" }, "indexer-bench"),
    metrics: createMetrics(),
    shutdown: createShutdown(),
  };
  return createIndexer(common, { deployment, pollIntervalMs, progress: process.stderr.isTTY });
}

type Client = ReturnType<typeof createPublicClient>;

/** The accounts as platform users with custodial wallets (placeholder key material: the indexer reads addresses). */
async function registerWallets(database: TestDatabase, accounts: readonly Address[]): Promise<void> {
  for (const [i, account] of accounts.slice(1).entries()) {
    const [result] = await database.pool.query(
      "INSERT INTO users (username, email, password_hash, wallet_address) VALUES (?, ?, 'bench', ?)",
      [`bench${i}`, `bench${i}@example.test`, account.toLowerCase()],
    );
    await database.pool.query(
      "INSERT INTO wallets (user_id, address, encrypted_private_key, iv, auth_tag, key_version) VALUES (?, ?, ?, ?, ?, 1)",
      [
        (result as { insertId: number }).insertId,
        account.toLowerCase(),
        Buffer.alloc(48),
        Buffer.alloc(12),
        Buffer.alloc(16),
      ],
    );
  }
}

async function generateActivity(client: Client, deployment: Deployment) {
  const accounts = (await client.request({ method: "eth_accounts" } as never)) as Address[];
  const [operator, ...users] = accounts as [Address, ...Address[]];
  const registry = deployment.contracts.CertificateRegistry.address;
  const marketplace = deployment.contracts.Marketplace.address;
  let events = 0;
  await client.request({ method: "evm_setAutomine", params: [false] } as never);

  // Nonces are assigned here, so a block's transactions can all go out at once (one batched HTTP request).
  const nonces = new Map<Address, number>();
  for (const account of accounts) {
    nonces.set(
      account,
      Number(await client.request({ method: "eth_getTransactionCount", params: [account, "pending"] } as never)),
    );
  }
  /** Sends in blocks of BLOCK_TXS, mining each block, so the chain has many blocks of realistic size. */
  const sendAll = async (sends: Send[], eventsEach: number) => {
    for (let i = 0; i < sends.length; i += BLOCK_TXS) {
      await Promise.all(
        sends.slice(i, i + BLOCK_TXS).map((send) => {
          const nonce = nonces.get(send.from) ?? 0;
          nonces.set(send.from, nonce + 1);
          return client.request({
            method: "eth_sendTransaction",
            params: [
              {
                ...send,
                nonce: `0x${nonce.toString(16)}`,
                value: send.value ? `0x${send.value.toString(16)}` : undefined,
                gas: `0x${send.gas.toString(16)}`,
              },
            ],
          } as never);
        }),
      );
      await client.request({ method: "evm_mine" } as never);
    }
    events += sends.length * eventsEach;
  };
  const call = (from: Address, to: Address, data: Hex, gas = 400_000n, value?: bigint): Send => ({
    from,
    to,
    data,
    gas,
    value,
  });
  const registryCall = (from: Address, functionName: string, args: readonly unknown[]) =>
    call(from, registry, encodeFunctionData({ abi: certificateRegistryAbi, functionName, args } as never));
  const marketCall = (from: Address, functionName: string, args: readonly unknown[], value?: bigint) =>
    call(from, marketplace, encodeFunctionData({ abi: marketplaceAbi, functionName, args } as never), 400_000n, value);

  // Token t (1-based) goes to users[t % n]; listing ids follow the order of `list` calls.
  const owner = new Map<number, Address>();
  const userOf = (t: number) => users[t % users.length] as Address;
  const issues: Send[] = [];
  for (let t = 1; t <= ISSUES; t++) {
    owner.set(t, userOf(t));
    issues.push(registryCall(operator, "issue", [userOf(t), `bafybench${t}`, 0n]));
  }
  await sendAll(issues, 2); // Transfer (mint) + CertificateIssued
  await sendAll(
    users.map((u) => registryCall(u, "setApprovalForAll", [marketplace, true])),
    1,
  );

  const transfers: Send[] = [];
  for (let t = 1; t <= TRANSFERS; t++) {
    const from = owner.get(t) as Address;
    const to = users[(users.indexOf(from) + 1) % users.length] as Address;
    transfers.push(registryCall(from, "transferFrom", [from, to, BigInt(t)]));
    owner.set(t, to);
  }
  await sendAll(transfers, 1);

  // Listings of tokens TRANSFERS+1…, some relisted (ListingCancelled + Listed), some sold, the rest revoked.
  const listed: Array<{ listingId: number; tokenId: number; seller: Address }> = [];
  const lists: Send[] = [];
  for (let i = 0; i < LISTINGS; i++) {
    const tokenId = TRANSFERS + 1 + i;
    const seller = owner.get(tokenId) as Address;
    lists.push(marketCall(seller, "list", [BigInt(tokenId), "0x0000000000000000000000000000000000000000", PRICE]));
    listed.push({ listingId: i + 1, tokenId, seller });
  }
  await sendAll(lists, 1);
  const relists: Send[] = [];
  for (let i = 0; i < RELISTINGS; i++) {
    const { tokenId, seller } = listed[i] as (typeof listed)[number];
    relists.push(
      marketCall(seller, "list", [BigInt(tokenId), "0x0000000000000000000000000000000000000000", PRICE * 2n]),
    );
  }
  await sendAll(relists, 2);
  const sales: Send[] = [];
  for (let i = RELISTINGS; i < RELISTINGS + SALES; i++) {
    const { listingId, seller } = listed[i] as (typeof listed)[number];
    const buyer = users[(users.indexOf(seller) + 2) % users.length] as Address;
    sales.push(marketCall(buyer, "buy", [BigInt(listingId), PRICE], PRICE));
  }
  await sendAll(sales, 2); // Sale + Transfer
  const revocations: Send[] = [];
  for (let t = ISSUES - REVOCATIONS + 1; t <= ISSUES; t++)
    revocations.push(registryCall(operator, "revoke", [BigInt(t), "bench"]));
  await sendAll(revocations, 2); // CertificateRevoked + MetadataUpdate
  await client.request({ method: "evm_setAutomine", params: [true] } as never);
  await client.request({ method: "anvil_mine", params: ["0x20"] } as never);
  return { events };
}

/**
 * From block mined to row visible. "Mined" is when an independent newHeads subscriber hears of the block: anvil
 * answers `eth_sendTransaction` only after mining and more (100+ ms on a chain with a large state), so the send's
 * return would flatter the indexer.
 */
async function measureLatency(
  client: Client,
  wsUrl: string,
  deployment: Deployment,
  database: TestDatabase,
): Promise<number[]> {
  const accounts = (await client.request({ method: "eth_accounts" } as never)) as Address[];
  const registry = deployment.contracts.CertificateRegistry.address;
  const transport = webSocket(wsUrl, { reconnect: false });
  const observer = createPublicClient({ transport });
  const heardAt = new Map<bigint, number>();
  const unwatch = observer.watchBlockNumber({ onBlockNumber: (n) => heardAt.set(n, performance.now()) });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const latencies: number[] = [];
  try {
    for (let i = 0; i < LATENCY_BLOCKS; i++) {
      const hash = (await client.request({
        method: "eth_sendTransaction",
        params: [
          {
            from: accounts[0],
            to: registry,
            gas: "0x61a80",
            data: encodeFunctionData({
              abi: certificateRegistryAbi,
              functionName: "issue",
              args: [accounts[1] as Address, `bafylatency${i}`, 0n],
            }),
          },
        ],
      } as never)) as Hex;
      let visible: number;
      for (;;) {
        const [rows] = await database.pool.query("SELECT block_number FROM transactions WHERE tx_hash = ?", [hash]);
        const row = (rows as Array<{ block_number: number }>)[0];
        if (row) {
          visible = performance.now();
          const mined = heardAt.get(BigInt(row.block_number));
          if (mined !== undefined) latencies.push(Math.max(0, visible - mined));
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  } finally {
    unwatch();
    (await transport({}).value?.getRpcClient())?.close();
  }
  return latencies;
}

async function measureReorg(client: Client, indexer: Indexer): Promise<BenchmarkResult> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    await client.request({ method: "anvil_mine", params: ["0x5"] } as never);
    await waitFor(async () => indexer.status().indexedBlock === Number(await client.getBlockNumber()), 30_000);
    const rpc = (method: string, params: unknown[]) => client.request({ method, params } as never);
    await anvilPoolSettled(rpc);
    const started = performance.now();
    await rpc("anvil_reorg", [5, []]);
    const head = await client.getBlock();
    await waitFor(async () => {
      const [rows] = await indexer.db.pool.query("SELECT block_hash FROM indexer_cursor");
      return (rows as Array<{ block_hash: string }>)[0]?.block_hash === head.hash;
    }, 30_000);
    times.push(performance.now() - started);
  }
  return {
    metric: "reorg time-to-correct (depth 5)",
    value: percentile(times, 0.5),
    unit: "ms",
    note: "median of 5, newHeads",
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("benchmark step timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
}
