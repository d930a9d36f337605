import type { Hash, RpcLog } from "viem";
import type { ChainEvent } from "../decode/events.ts";
import { ChainMovedError } from "../errors.ts";
import type { PlatformReads } from "../store/platform.ts";
import type { LogFetcher } from "./log-fetcher.ts";
import type { BlockHeader, ChainTransaction, ReceiptWithLogs, Rpc } from "./rpc.ts";

type Address = `0x${string}`;

/** Blocks per burst of header or receipt requests, to bound what is in flight at once. */
const BLOCK_FETCH_CHUNK = 500;

/** Everything the store needs to apply blocks [from, to]. */
export type RangeData = {
  events: ChainEvent[];
  /** Headers of the blocks that rows point at, and of `from` and `to`, by number. */
  blocks: Map<number, BlockHeader>;
  /**
   * The mined transactions that get a row: every one that emitted a platform log; every ETH transfer (value > 0,
   * `value` set) from or to a platform wallet; every one a `pending` row waits for, reverted ones included.
   */
  transactions: Map<Hash, ChainTransaction>;
  /** The platform wallets among the range's senders, recipients and payment-token parties. */
  wallets: Set<Address>;
  /** Receipts read: the range's size in transactions, for batch sizing. */
  receipts: number;
};

export type RangeFetcher = {
  /** Reads and checks [from, to]; `known` are headers already read (the realtime path reads them all first). */
  fetch(from: number, to: number, known?: ReadonlyMap<number, BlockHeader>): Promise<RangeData>;
};

/**
 * Reads a block range as the store applies it, from logs, receipts and headers, never from block bodies:
 *
 * - platform logs (`eth_getLogs` on our contracts, adaptive ranges), decoded;
 * - receipts (`eth_getBlockReceipts`) of the blocks with platform logs, for each transaction's sender, recipient and
 *   status; when platform wallets exist, of every block, to find plain ETH transfers from or to them (only those
 *   few transactions are then read in full, for their value);
 * - receipts of the `pending` rows' hashes not met in those blocks (`eth_getTransactionReceipt`), so a relayer
 *   transaction that reverted (no logs) or moved nothing is still seen mined;
 * - headers of the blocks rows point at (time and hash). Every log and receipt must carry its header's hash: if not,
 *   the chain moved under the read (`ChainMovedError`, the batch is read again).
 */
export function createRangeFetcher(
  rpc: Rpc,
  logFetcher: LogFetcher,
  decode: (logs: readonly RpcLog[]) => ChainEvent[],
  platform: PlatformReads,
  contracts: readonly Address[],
): RangeFetcher {
  const isContract = new Set(contracts);

  /**
   * Receipts of `numbers`, without their logs, and (`withEvents`) the platform logs among them decoded, in chain
   * order: decoded as each answer arrives, so the large raw answers die young.
   */
  const receiptsOf = async (numbers: readonly number[], withEvents: boolean) => {
    const receipts: ChainTransaction[] = [];
    const events: ChainEvent[] = [];
    const select = (block: ReceiptWithLogs[]) => {
      const logs: RpcLog[] = [];
      const transactions = block.map(({ logs: receiptLogs, ...transaction }) => {
        if (withEvents) {
          for (const log of receiptLogs) if (isContract.has(log.address.toLowerCase() as Address)) logs.push(log);
        }
        return transaction;
      });
      return { transactions, events: decode(logs) };
    };
    for (let i = 0; i < numbers.length; i += BLOCK_FETCH_CHUNK) {
      for (const block of await rpc.getBlockReceipts(numbers.slice(i, i + BLOCK_FETCH_CHUNK), select)) {
        receipts.push(...block.transactions);
        events.push(...block.events);
      }
    }
    return { receipts, events };
  };
  const headersOf = async (numbers: readonly number[], into: Map<number, BlockHeader>) => {
    for (let i = 0; i < numbers.length; i += BLOCK_FETCH_CHUNK) {
      for (const header of await rpc.getHeaders(numbers.slice(i, i + BLOCK_FETCH_CHUNK)))
        into.set(header.number, header);
    }
  };

  return {
    async fetch(from, to, known) {
      const scanAll = await platform.hasWallets();
      const everyBlock = Array.from({ length: to - from + 1 }, (_, i) => from + i);
      // Reading every receipt, the platform logs are in them: `eth_getLogs` would read them a second time.
      const [logs, pending, scanned] = await Promise.all([
        scanAll ? undefined : logFetcher.fetchLogs(from, to),
        platform.pendingHashes(),
        scanAll ? receiptsOf(everyBlock, true) : undefined,
      ]);
      const events = scanned?.events ?? decode(logs ?? []);
      const platformHashes = new Set<Hash>(events.map((event) => event.log.txHash));
      const receipts =
        scanned?.receipts ??
        (await receiptsOf([...new Set(events.map((event) => event.log.blockNumber))], false)).receipts;
      const byHash = new Map(receipts.map((receipt) => [receipt.hash, receipt]));

      const transactions = new Map<Hash, ChainTransaction>();
      for (const hash of platformHashes) {
        const receipt = byHash.get(hash);
        if (!receipt) throw new ChainMovedError(`no receipt for transaction ${hash} of a platform log`);
        transactions.set(hash, receipt);
      }

      // Plain ETH transfers of platform wallets: receipts name the parties, and only the wallets' transactions are read
      // in full, for their value. A call to our contracts that left no log (it reverted) counts only if a `pending`
      // row waits for it (below).
      let wallets = new Set<Address>();
      if (scanAll) {
        const others = receipts.filter((r) => !platformHashes.has(r.hash) && !isContract.has(r.to));
        const parties: Address[] = others.flatMap((r) => [r.from, r.to]);
        for (const event of events) {
          if (event.type === "paymentTokenTransferred") parties.push(event.from, event.to);
        }
        wallets = await platform.findWallets(parties);
        const candidates = others.filter((r) => wallets.has(r.from) || wallets.has(r.to));
        if (candidates.length > 0) {
          const values = await rpc.getValues(candidates.map((r) => r.hash));
          candidates.forEach((receipt, i) => {
            const value = values[i] as bigint;
            if (value > 0n) transactions.set(receipt.hash, { ...receipt, value });
          });
        }
      }

      // Relayer broadcasts still `pending`: found in the receipts read above, or asked for one by one.
      const unresolved: Hash[] = [];
      for (const hash of pending) {
        const receipt = byHash.get(hash);
        if (receipt) {
          if (!transactions.has(hash)) transactions.set(hash, receipt);
        } else unresolved.push(hash);
      }
      if (unresolved.length > 0) {
        for (const receipt of await rpc.getReceipts(unresolved)) {
          // Mined after `to`: a later batch completes it.
          if (receipt && receipt.blockNumber <= to) transactions.set(receipt.hash, receipt);
        }
      }

      const blocks = new Map<number, BlockHeader>();
      // `from`'s header too, whose parent hash ties the range to the block before it.
      const needed = new Set<number>([from, to]);
      for (const event of events) needed.add(event.log.blockNumber);
      for (const transaction of transactions.values()) needed.add(transaction.blockNumber);
      const missing: number[] = [];
      for (const number of needed) {
        const header = known?.get(number);
        if (header) blocks.set(number, header);
        else missing.push(number);
      }
      await headersOf(
        missing.sort((a, b) => a - b),
        blocks,
      );

      for (const event of events) {
        if (blocks.get(event.log.blockNumber)?.hash !== event.log.blockHash)
          throw new ChainMovedError(`log of block ${event.log.blockNumber} does not belong to the block we read`);
      }
      for (const transaction of transactions.values()) {
        if (blocks.get(transaction.blockNumber)?.hash !== transaction.blockHash)
          throw new ChainMovedError(`receipt of block ${transaction.blockNumber} does not belong to the block we read`);
      }
      return { events, blocks, transactions, wallets, receipts: receipts.length };
    },
  };
}
