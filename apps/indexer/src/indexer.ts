import type { Deployment } from "@certchain/contracts";
import { createDb, type DbHandle } from "@certchain/db";
import type { Common } from "./common.ts";
import { createEventDecoder } from "./decode/events.ts";
import { ChainMovedError, DeepReorgError, FatalError, RetryableError } from "./errors.ts";
import { type BackfillProgress, createProgressReporter } from "./progress.ts";
import { createLease, type Lease } from "./store/lease.ts";
import { type Cursor, createStore, type Store } from "./store/store.ts";
import { createHeadWatcher } from "./sync/heads.ts";
import { createLogFetcher } from "./sync/log-fetcher.ts";
import { findCommonAncestor } from "./sync/reconcile.ts";
import { sleep } from "./sync/retry.ts";
import { type ChainBlock, createRpc, type Rpc } from "./sync/rpc.ts";

/** Most blocks per backfill batch (one MySQL transaction); batches aim at BACKFILL_TARGET_EVENTS events. */
const DEFAULT_BACKFILL_BATCH_BLOCKS = 5_000;
const INITIAL_BACKFILL_BATCH_BLOCKS = 100;
const MIN_BACKFILL_BATCH_BLOCKS = 1;
/** Events per backfill batch: large enough to amortise a commit, small enough to overlap fetch and write. */
const BACKFILL_TARGET_EVENTS = 5_000;
/** Blocks fetched per `eth_getBlockByNumber` burst while backfilling, to bound memory. */
const BLOCK_FETCH_CHUNK = 2_000;
/** Near the head, at most this many blocks per batch (a node that jumps ahead is caught up in a few batches). */
const REALTIME_BATCH_BLOCKS = 100;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** After a retryable failure of a whole step (the chain moved under a batch), wait this long before the next. */
const STEP_RETRY_DELAY_MS = 50;

export type IndexerOptions = {
  deployment: Deployment;
  /** Head polling interval; also the fallback when the newHeads socket is down. */
  pollIntervalMs?: number;
  /** Lease TTL (see `store/lease.ts`). */
  leaseTtlMs?: number;
  /** `/readyz` fails when the indexed block is more than this many blocks behind the head; default FINALITY_DEPTH. */
  readyMaxLagBlocks?: number;
  /** Blocks per backfill batch (one MySQL transaction); bounds memory. */
  backfillBatchBlocks?: number;
  /** Print a progress line during backfill (on a TTY). */
  progress?: boolean;
  /** An existing pool (tests); otherwise one is opened on `config.databaseUrl` and closed on shutdown. */
  db?: DbHandle;
};

export type IndexerRole = "starting" | "standby" | "leader" | "stopped" | "failed";

export type IndexerStatus = {
  role: IndexerRole;
  headBlock: number | null;
  indexedBlock: number | null;
  finalizedBlock: number | null;
  /** Set once a reorg deeper than the window was seen: the indexer stopped and needs `--rebuild`. */
  deepReorg: DeepReorgError | null;
  /** The error that stopped the indexer, if any. */
  failure: Error | null;
};

export type Indexer = {
  /** Waits for the lease (as a standby), then follows the chain until `stop()` or a fatal error. */
  run(): Promise<void>;
  /** Finishes the batch in flight, releases the lease and closes what `run` opened. */
  stop(): Promise<void>;
  status(): IndexerStatus;
  /** True when the database and the node answer now (for `/readyz`). */
  checkDependencies(): Promise<{ database: boolean; node: boolean }>;
  /** Forgets all indexed state so the next `run` indexes from the deployment blocks (needs the lease). */
  rebuild(): Promise<void>;
  readonly rpc: Rpc;
  readonly db: DbHandle;
  readonly readyMaxLagBlocks: number;
};

/**
 * The indexer: sync (heads, adaptive log ranges, reorg reconciliation) → decode → store (one MySQL transaction per
 * batch with its undo records and cursor), under a single-writer lease.
 *
 * Invariants:
 * - the in-memory `cursor` equals `indexer_cursor` after every commit; each batch starts at `cursor.number + 1`;
 * - blocks ≤ `cursor.finalized` are final: written without undo records, never reverted;
 * - blocks in (`finalized`, `cursor.number`] are in `indexer_blocks`, linked by parent hash, with undo records.
 */
export function createIndexer(common: Common, options: IndexerOptions): Indexer {
  const { config, logger, metrics } = common;
  const depth = config.finalityDepth;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const backfillBatchBlocks = options.backfillBatchBlocks ?? DEFAULT_BACKFILL_BATCH_BLOCKS;
  const db = options.db ?? createDb(config.databaseUrl, { poolSize: 4 });
  const ownsDb = options.db === undefined;
  const lease: Lease = createLease(common, db.pool, { ttlMs: options.leaseTtlMs });
  const store: Store = createStore(common, db, lease);
  const rpc = createRpc(common);
  const contracts = options.deployment.contracts;
  const addresses = [contracts.CertificateRegistry, contracts.Marketplace, contracts.PaymentToken].map(
    (contract) => contract.address.toLowerCase() as `0x${string}`,
  );
  const startBlock = Math.min(
    contracts.CertificateRegistry.blockNumber,
    contracts.Marketplace.blockNumber,
    contracts.PaymentToken.blockNumber,
  );
  const logFetcher = createLogFetcher(common, rpc, addresses);
  const decode = createEventDecoder({
    certificateRegistry: contracts.CertificateRegistry.address,
    marketplace: contracts.Marketplace.address,
    paymentToken: contracts.PaymentToken.address,
  });
  const heads = createHeadWatcher(common, pollIntervalMs);
  const progress = createProgressReporter(options.progress ?? false);

  let stopping = false;
  let maxReorgDepth = 0;
  let running: Promise<void> | undefined;
  let cursor: Cursor | undefined;
  const status: IndexerStatus = {
    role: "starting",
    headBlock: null,
    indexedBlock: null,
    finalizedBlock: null,
    deepReorg: null,
    failure: null,
  };
  lease.onLost((error) => {
    status.failure = error;
    stopping = true;
    heads.wake();
  });

  const setCursor = (next: Cursor) => {
    cursor = next;
    status.indexedBlock = next.number;
    status.finalizedBlock = next.finalized;
    metrics.indexedBlock.set(next.number);
    metrics.finalizedBlock.set(next.finalized);
    if (status.headBlock !== null) metrics.lagBlocks.set(Math.max(0, status.headBlock - next.number));
  };

  /** Fetches blocks by number in bounded bursts. */
  const fetchBlocks = async (numbers: number[]): Promise<Map<number, ChainBlock>> => {
    const blocks = new Map<number, ChainBlock>();
    for (let i = 0; i < numbers.length; i += BLOCK_FETCH_CHUNK) {
      for (const block of await rpc.getBlocks(numbers.slice(i, i + BLOCK_FETCH_CHUNK))) blocks.set(block.number, block);
    }
    return blocks;
  };

  /** Logs of [from, to], decoded, each checked against the block we fetched for its height. */
  const fetchEvents = async (
    from: number,
    to: number,
    blocksFor: (numbers: number[]) => Promise<Map<number, ChainBlock>>,
  ) => {
    const logs = await logFetcher.fetchLogs(from, to);
    const events = decode(logs);
    const numbers = new Set(events.map((event) => event.log.blockNumber));
    numbers.add(to);
    const blocks = await blocksFor([...numbers].sort((a, b) => a - b));
    for (const event of events) {
      if (blocks.get(event.log.blockNumber)?.hash !== event.log.blockHash) {
        throw new ChainMovedError(`log of block ${event.log.blockNumber} does not belong to the block we read`);
      }
    }
    return { events, blocks };
  };

  /** Final blocks: no `indexer_blocks`, no undo records. */
  /**
   * Final blocks: no `indexer_blocks`, no undo records. Pipelined: while one batch is written, the next one is
   * fetched (final blocks cannot change, so a prefetched batch never goes stale). Batches are sized to hold about
   * BACKFILL_TARGET_EVENTS, so a dense chain commits often and a sparse one does not commit per handful of blocks.
   */
  const backfill = async (from: Cursor, safe: number) => {
    const started = performance.now();
    const to = Math.min(safe, from.number + backfillBlocks);
    const pending = prefetch?.from === from.number + 1 && prefetch.to === to ? prefetch.data : undefined;
    prefetch = undefined;
    const { events, blocks } = await (pending ?? fetchEvents(from.number + 1, to, fetchBlocks));
    const fetched = performance.now();
    // Size the next batch from this one's density, then start fetching it while this one is written.
    const density = events.length / (to - from.number);
    backfillBlocks = Math.max(
      MIN_BACKFILL_BATCH_BLOCKS,
      Math.min(backfillBatchBlocks, Math.floor(BACKFILL_TARGET_EVENTS / Math.max(density, 1e-6))),
    );
    if (to < safe) {
      const nextTo = Math.min(safe, to + backfillBlocks);
      const data = fetchEvents(to + 1, nextTo, fetchBlocks);
      data.catch(() => undefined); // awaited (and its error handled) by the next batch, or dropped
      prefetch = { from: to + 1, to: nextTo, data };
    }
    const last = blocks.get(to) as ChainBlock;
    const next: Cursor = { number: to, hash: last.hash, finalized: to };
    await store.applyBatch({ from, to: next, events, blocks, unfinalizedBlocks: [] });
    recordBatch(from.number + 1, to, events.length, started, fetched);
    setCursor(next);
  };
  let backfillBlocks = Math.min(backfillBatchBlocks, INITIAL_BACKFILL_BATCH_BLOCKS);
  let prefetch: { from: number; to: number; data: ReturnType<typeof fetchEvents> } | undefined;

  /** Unfinalized blocks: every block fetched, linked by parent hash, recorded with undo records. */
  const followHead = async (from: Cursor, to: number, head: number) => {
    const started = performance.now();
    const numbers = Array.from({ length: to - from.number }, (_, i) => from.number + 1 + i);
    const headers = await fetchBlocks(numbers);
    const chain = numbers.map((n) => headers.get(n) as ChainBlock);
    if (from.hash !== null && chain[0]?.parentHash !== from.hash) return reconcileReorg(from, head);
    chain.forEach((block, i) => {
      if (i > 0 && block.parentHash !== chain[i - 1]?.hash)
        throw new ChainMovedError(`block ${block.number} does not extend block ${block.number - 1}`);
    });
    const { events, blocks } = await fetchEvents(from.number + 1, to, async () => headers);
    const fetched = performance.now();
    const next: Cursor = {
      number: to,
      hash: (chain[chain.length - 1] as ChainBlock).hash,
      finalized: Math.max(from.finalized, Math.min(to, head - depth)),
    };
    await store.applyBatch({
      from,
      to: next,
      events,
      blocks,
      unfinalizedBlocks: chain.filter((b) => b.number > next.finalized),
    });
    recordBatch(from.number + 1, to, events.length, started, fetched);
    setCursor(next);
  };

  const reconcileReorg = async (from: Cursor, head: number) => {
    const started = performance.now();
    const stored = await store.loadUnfinalizedBlocks();
    const ancestor = await findCommonAncestor(from, stored, head, (numbers) => rpc.getBlocks(numbers));
    const depthReverted = from.number - ancestor.number;
    const { undone } = await store.revertTo(ancestor);
    metrics.reorgs.inc();
    metrics.lastReorgDepth.set(depthReverted);
    if (depthReverted > maxReorgDepth) {
      maxReorgDepth = depthReverted;
      metrics.maxReorgDepth.set(depthReverted);
    }
    logger.warn(
      {
        orphanedTip: from.number,
        orphanedHash: from.hash,
        ancestor: ancestor.number,
        depth: depthReverted,
        undone,
        ms: Math.round(performance.now() - started),
      },
      "Reverted reorged blocks",
    );
    setCursor({ number: ancestor.number, hash: ancestor.hash, finalized: from.finalized });
  };

  const recordBatch = (from: number, to: number, events: number, started: number, fetched = started) => {
    const ms = performance.now() - started;
    metrics.events.inc(events);
    metrics.eventsPerSecond.set(ms > 0 ? Math.round((events * 1000) / ms) : 0);
    progress.update({ done: to, target: status.headBlock ?? to, events, ms } satisfies BackfillProgress);
    const fetchMs = Math.round(fetched - started);
    logger.debug({ from, to, events, ms: Math.round(ms), fetchMs }, "Indexed block range");
  };

  /** One step of the loop; false when there is nothing to do until the next head. */
  const step = async (): Promise<boolean> => {
    const head = await rpc.getHeadNumber();
    status.headBlock = head;
    metrics.headBlock.set(head);
    const current = cursor ?? { number: startBlock - 1, hash: null, finalized: startBlock - 1 };
    metrics.lagBlocks.set(Math.max(0, head - current.number));

    // Our tip may have been replaced at the same height (or the node's chain got shorter): check it first.
    if (current.number > current.finalized) {
      const [tip] = current.number <= head ? await rpc.getBlocks([current.number]) : [];
      if (tip?.hash !== current.hash) {
        await reconcileReorg(current, head);
        return true;
      }
    }
    if (current.number >= head) {
      progress.done();
      return false;
    }
    const safe = head - depth;
    if (current.number < safe) await backfill(current, safe);
    else await followHead(current, Math.min(head, current.number + REALTIME_BATCH_BLOCKS), head);
    return true;
  };

  const loop = async () => {
    while (!stopping) {
      try {
        if (!(await step())) await heads.next();
      } catch (error) {
        if (stopping) break;
        if (error instanceof RetryableError) {
          logger.debug({ error: error.message }, "Retrying step");
          await sleep(STEP_RETRY_DELAY_MS);
          continue;
        }
        throw error;
      }
    }
  };

  const run = async () => {
    status.role = "standby";
    if (!(await lease.acquire(() => stopping))) return;
    status.role = "leader";
    try {
      const stored = await store.loadCursor();
      if (stored) setCursor(stored);
      logger.info(
        { cursor: stored ?? null, startBlock, finalityDepth: depth, ws: Boolean(config.ethWsUrl) },
        "Started indexing",
      );
      await loop();
      status.role = status.failure ? "failed" : "stopped";
    } catch (error) {
      status.role = "failed";
      if (error instanceof DeepReorgError) {
        status.deepReorg = error;
        logger.error(
          { block: error.blockNumber, indexedHash: error.indexedHash, canonicalHash: error.canonicalHash },
          "Stopped indexing: reorg deeper than FINALITY_DEPTH; run `npm run indexer -- --rebuild`",
        );
        // Keep the lease: a standby would meet the same reorg. Wait for the operator, not-ready.
        while (!stopping) await heads.next();
        return;
      }
      status.failure = error as Error;
      throw error;
    }
  };

  const indexer: Indexer = {
    rpc,
    db,
    readyMaxLagBlocks: options.readyMaxLagBlocks ?? depth,
    run() {
      running ??= run().finally(() => progress.done());
      return running;
    },
    async stop() {
      stopping = true;
      heads.wake();
      await running?.catch(() => undefined);
      await heads.close();
      await lease.release();
      if (ownsDb) await db.close();
      if (status.role !== "failed") status.role = "stopped";
    },
    status: () => ({ ...status }),
    async checkDependencies() {
      const database = await db.pool.query("SELECT 1").then(
        () => true,
        () => false,
      );
      return { database, node: await rpc.isReachable() };
    },
    async rebuild() {
      if (!(await lease.acquire(() => stopping))) throw new FatalError("stopped before acquiring the lease");
      await store.reset();
      cursor = undefined;
      await lease.release();
      logger.info("Reset the indexed state; indexing starts again from the deployment blocks");
    },
  };
  return indexer;
}
