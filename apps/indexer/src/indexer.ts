import type { Deployment } from "@certchain/contracts";
import { type DbHandle, isConnectionError, openDatabase, registerPoolMetrics } from "@certchain/db";
import type { CacheInvalidator } from "@certchain/queue";
import type { Common } from "./common.ts";
import { createEventDecoder } from "./decode/events.ts";
import { ChainMovedError, DeepReorgError, FatalError, RetryableError } from "./errors.ts";
import { type BackfillProgress, createProgressReporter } from "./progress.ts";
import { forgetFrom } from "./recovery.ts";
import { createLease, type Lease } from "./store/lease.ts";
import { createPlatformReads } from "./store/platform.ts";
import { type Cursor, createStore, type PreparedBatch, type Store } from "./store/store.ts";
import { createHeadWatcher } from "./sync/heads.ts";
import { createLogFetcher } from "./sync/log-fetcher.ts";
import { createRangeFetcher, type RangeData } from "./sync/range-fetcher.ts";
import { findCommonAncestor } from "./sync/reconcile.ts";
import { sleep } from "./sync/retry.ts";
import { type BlockHeader, createRpc, type Rpc } from "./sync/rpc.ts";

/** Most blocks per backfill batch (one MySQL transaction); batches aim at BACKFILL_TARGET_EVENTS events. */
const DEFAULT_BACKFILL_BATCH_BLOCKS = 5_000;
const INITIAL_BACKFILL_BATCH_BLOCKS = 100;
const MIN_BACKFILL_BATCH_BLOCKS = 1;
/**
 * Events per backfill batch: large enough to amortise a commit and to write a row that several events change once
 * (fewer upserts), small enough to keep fetch, apply and write overlapping and memory bounded.
 */
const BACKFILL_TARGET_EVENTS = 15_000;
/** Near the head, at most this many blocks per batch (a node that jumps ahead is caught up in a few batches). */
const REALTIME_BATCH_BLOCKS = 100;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DB_POOL_SIZE = 6;
/** After a retryable failure of a whole step (the chain moved under a batch), wait this long before the next. */
const STEP_RETRY_DELAY_MS = 50;
/** While the database is unreachable, steps are retried with backoff up to this delay (shutdown waits at most this). */
const DATABASE_RETRY_MAX_DELAY_MS = 2_000;

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
  /** Tells the API's read caches what each commit changed (after the commit); none when unset. */
  cacheInvalidator?: CacheInvalidator;
};

export type IndexerRole = "starting" | "standby" | "leader" | "stopped" | "failed";

export type IndexerStatus = {
  role: IndexerRole;
  headBlock: number | null;
  indexedBlock: number | null;
  finalizedBlock: number | null;
  /** Set once a reorg deeper than the window was seen: the indexer stopped and needs `--rebuild-from` or `--rebuild`. */
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
  /**
   * Forgets what was indexed from `block` on, so the next `run` re-indexes from there (needs the lease): recovery
   * from a reorg deeper than the window that forked at or after `block`. Refuses (`UserFacingError`) a block above
   * the indexed one, or one above the fork (rows kept below it would come from orphaned blocks).
   */
  rebuildFrom(block: number): Promise<void>;
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
  // At once: a backfill commit, the next batch's reads, the fetch's platform reads, lease heartbeats and probes.
  const db = options.db ?? openDatabase(config, logger, DB_POOL_SIZE);
  registerPoolMetrics(metrics.registry, db);
  const ownsDb = options.db === undefined;
  const lease: Lease = createLease(common, db.pool, { ttlMs: options.leaseTtlMs });
  const store: Store = createStore(common, db, lease, options.cacheInvalidator);
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
  const rangeFetcher = createRangeFetcher(rpc, logFetcher, decode, createPlatformReads(db.pool), addresses);
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

  /** A commit is done: `next` is the database's cursor now. */
  const setCursor = (next: Cursor) => {
    cursor = next;
    committed = next;
    status.indexedBlock = next.number;
    status.finalizedBlock = next.finalized;
    metrics.indexedBlock.set(next.number);
    metrics.finalizedBlock.set(next.finalized);
    if (status.headBlock !== null) metrics.lagBlocks.set(Math.max(0, status.headBlock - next.number));
  };
  /** The database's cursor; `cursor` runs ahead of it while a backfill commit is in flight. */
  let committed: Cursor | undefined;

  /**
   * Final blocks: no `indexer_blocks`, no undo records. Pipelined three ways: while one batch is written, the next
   * one is applied in memory (taking the rows the batch being written holds from its memory) and the one after it
   * is fetched; final blocks cannot change, so nothing prepared ahead goes stale. Batches are sized to hold about
   * BACKFILL_TARGET_EVENTS events (or receipts, when every block's are read), so a dense chain commits often and a
   * sparse one does not commit per handful of blocks.
   */
  const backfill = async (from: Cursor, safe: number, head: number) => {
    const started = performance.now();
    const to = Math.min(safe, from.number + backfillBlocks);
    const pending = prefetch?.from === from.number + 1 && prefetch.to === to ? prefetch.data : undefined;
    prefetch = undefined;
    const range = await (pending ?? rangeFetcher.fetch(from.number + 1, to));
    const fetched = performance.now();
    if (from.hash !== null && range.blocks.get(from.number + 1)?.parentHash !== from.hash) {
      // The block we stand on is no longer canonical, although final: a reorg deeper than the window, while we were
      // backfilling or stopped. Whatever is in flight lands first; then the reorg is reported (`DeepReorgError`).
      await settleInFlight();
      return reconcileReorg(from, head);
    }
    // Size the next batch from this one's density, then start fetching it while this one is written.
    const density = Math.max(range.events.length, range.receipts) / (to - from.number);
    backfillBlocks = Math.max(
      MIN_BACKFILL_BATCH_BLOCKS,
      Math.min(backfillBatchBlocks, Math.floor(BACKFILL_TARGET_EVENTS / Math.max(density, 1e-6))),
    );
    if (to < safe) {
      const nextTo = Math.min(safe, to + backfillBlocks);
      const data = rangeFetcher.fetch(to + 1, nextTo);
      data.catch(() => undefined); // awaited (and its error handled) by the next batch, or dropped
      prefetch = { from: to + 1, to: nextTo, data };
    }
    const last = range.blocks.get(to) as BlockHeader;
    const next: Cursor = { number: to, hash: last.hash, finalized: to };
    const prepared = await store.prepareFinalBatch(
      { from, to: next, range, unfinalizedBlocks: [] },
      inFlight?.prepared,
    );
    await settleInFlight();
    const commit = store.commitPrepared(prepared).then(() => {
      recordBatch(from.number + 1, to, range.events.length, started, fetched);
      setCursor(next);
    });
    commit.catch(() => undefined); // awaited (and its error handled) by settleInFlight
    inFlight = { prepared, commit };
    cursor = next;
  };
  let backfillBlocks = Math.min(backfillBatchBlocks, INITIAL_BACKFILL_BATCH_BLOCKS);
  let prefetch: { from: number; to: number; data: Promise<RangeData> } | undefined;
  let inFlight: { prepared: PreparedBatch; commit: Promise<void> } | undefined;

  /**
   * Waits for the backfill commit in flight. If it failed, what was planned after it is dropped and the cursor goes
   * back to the database's, so the next step reads those blocks again.
   */
  const settleInFlight = async () => {
    const flight = inFlight;
    if (!flight) return;
    inFlight = undefined;
    try {
      await flight.commit;
    } catch (error) {
      cursor = committed;
      prefetch = undefined;
      throw error;
    }
  };

  /** Unfinalized blocks: every block's header read, linked by parent hash, recorded with undo records. */
  const followHead = async (from: Cursor, to: number, head: number) => {
    const started = performance.now();
    const numbers = Array.from({ length: to - from.number }, (_, i) => from.number + 1 + i);
    const chain = await rpc.getHeaders(numbers);
    if (from.hash !== null && chain[0]?.parentHash !== from.hash) return reconcileReorg(from, head);
    chain.forEach((block, i) => {
      if (i > 0 && block.parentHash !== chain[i - 1]?.hash)
        throw new ChainMovedError(`block ${block.number} does not extend block ${block.number - 1}`);
    });
    const range = await rangeFetcher.fetch(from.number + 1, to, new Map(chain.map((block) => [block.number, block])));
    const fetched = performance.now();
    const next: Cursor = {
      number: to,
      hash: (chain[chain.length - 1] as BlockHeader).hash,
      finalized: Math.max(from.finalized, Math.min(to, head - depth)),
    };
    await store.applyBatch({
      from,
      to: next,
      range,
      unfinalizedBlocks: chain.filter((b) => b.number > next.finalized),
    });
    recordBatch(from.number + 1, to, range.events.length, started, fetched);
    setCursor(next);
  };

  const reconcileReorg = async (from: Cursor, head: number) => {
    const started = performance.now();
    const stored = await store.loadUnfinalizedBlocks();
    const ancestor = await findCommonAncestor(from, stored, head, (numbers) => rpc.getHeaders(numbers));
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
    const safe = head - depth;
    // Backfill keeps a commit in flight between steps; everything else starts from the database's cursor.
    if (current.number === current.finalized && current.number < safe) {
      await backfill(current, safe, head);
      return true;
    }
    await settleInFlight();

    // Our tip may have been replaced at the same height (or the node's chain got shorter): check it first.
    if (current.number > current.finalized) {
      const [tip] = current.number <= head ? await rpc.getHeaders([current.number]) : [];
      if (tip?.hash !== current.hash) {
        await reconcileReorg(current, head);
        return true;
      }
    }
    if (current.number >= head) {
      progress.done();
      return false;
    }
    if (current.number < safe) await backfill(current, safe, head);
    else await followHead(current, Math.min(head, current.number + REALTIME_BATCH_BLOCKS), head);
    return true;
  };

  const loop = async () => {
    /** Steps failed in a row because the database could not be reached, and since when. */
    let databaseFailures = 0;
    let databaseDownSince = 0;
    while (!stopping) {
      try {
        if (databaseFailures > 0) {
          // A commit whose answer was lost with the connection may or may not have landed: go on from the database's
          // cursor, not from memory (the next batch would otherwise find the cursor moved and stop).
          const stored = await store.loadCursor();
          if (stored) setCursor(stored);
          else cursor = committed = undefined;
          logger.warn(
            { cursor: stored ?? null, downMs: Date.now() - databaseDownSince },
            "Database reachable again; resumed indexing",
          );
          databaseFailures = 0;
        }
        if (!(await step())) await heads.next();
      } catch (error) {
        // A failed step may leave a backfill commit in flight: it settles before anything else is tried.
        await settleInFlight().catch(() => undefined);
        if (stopping) break;
        if (error instanceof RetryableError) {
          logger.debug({ error: error.message }, "Retrying step");
          await sleep(STEP_RETRY_DELAY_MS);
          continue;
        }
        if (isConnectionError(error)) {
          // The database restarting or failing over: wait for it (`/readyz` says so meanwhile) rather than exit.
          prefetch = undefined;
          if (databaseFailures === 0) {
            databaseDownSince = Date.now();
            logger.warn({ error: (error as Error).message }, "Database unreachable; retrying until it answers");
          }
          databaseFailures += 1;
          await sleep(Math.min(DATABASE_RETRY_MAX_DELAY_MS, STEP_RETRY_DELAY_MS * 2 ** databaseFailures));
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
      // Stopping finishes the batch: the commit in flight lands (or fails) before the lease is released.
      await settleInFlight().catch(() => undefined);
      status.role = status.failure ? "failed" : "stopped";
    } catch (error) {
      status.role = "failed";
      if (error instanceof DeepReorgError) {
        status.deepReorg = error;
        logger.error(
          { block: error.blockNumber, indexedHash: error.indexedHash, canonicalHash: error.canonicalHash },
          "Stopped indexing: reorg deeper than FINALITY_DEPTH; stop it and run `npm run indexer -- --rebuild-from <block>` with a block at or below the fork (which is at or below `block`)",
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
    async rebuildFrom(block) {
      if (!(await lease.acquire(() => stopping))) throw new FatalError("stopped before acquiring the lease");
      try {
        await forgetFrom({ store, rpc, logger, startBlock }, block);
        cursor = undefined;
      } finally {
        await lease.release();
      }
    },
  };
  return indexer;
}
