import { createPublicClient, type Hash, http, type PublicClient, type RpcLog, toHex } from "viem";
import type { Common } from "../common.ts";
import { ChainMovedError } from "../errors.ts";
import { withRetry } from "./retry.ts";

/** One HTTP request carries up to this many JSON-RPC calls (block headers are fetched in bulk). */
const RPC_BATCH_SIZE = 200;
/** A call slower than this is treated as failed (and, for logs, as a range too large). */
const RPC_TIMEOUT_MS = 15_000;

/** A block as the indexer needs it: its place in the chain, its time, and the transactions of interest. */
export type ChainBlock = {
  number: number;
  hash: Hash;
  parentHash: Hash;
  /** Unix seconds. */
  timestamp: number;
  transactions: ChainTransaction[];
};

export type ChainTransaction = {
  hash: Hash;
  from: `0x${string}`;
  /** NULL for contract creations. */
  to: `0x${string}` | null;
  value: bigint;
};

export type Rpc = {
  /** The node's latest block number. */
  getHeadNumber(): Promise<number>;
  /** Blocks by number with their transactions, in the order asked (batched into few HTTP requests). */
  getBlocks(numbers: readonly number[]): Promise<ChainBlock[]>;
  /** `eth_getLogs` over [from, to] for `addresses`, raw (one call: range adaptation lives in the log fetcher). */
  getLogs(from: number, to: number, addresses: readonly `0x${string}`[]): Promise<RpcLog[]>;
  /** True when the node answers; for readiness probes, without retries. */
  isReachable(): Promise<boolean>;
  /** The raw viem client (reads of contract state in tools and tests). */
  client: PublicClient;
};

type RawBlock = {
  number: `0x${string}`;
  hash: Hash;
  parentHash: Hash;
  timestamp: `0x${string}`;
  transactions: Array<{ hash: Hash; from: `0x${string}`; to: `0x${string}` | null; value: `0x${string}` }>;
};

/**
 * JSON-RPC access with retries. Raw `request` calls rather than viem's formatted actions: the indexer reads tens of
 * thousands of logs per second, and only needs a few fields of each.
 */
export function createRpc(common: Pick<Common, "config" | "logger" | "metrics" | "shutdown">): Rpc {
  const client = createPublicClient({
    transport: http(common.config.ethNodeUrl, {
      batch: { batchSize: RPC_BATCH_SIZE, wait: 0 },
      retryCount: 0,
      timeout: RPC_TIMEOUT_MS,
    }),
  });

  const getBlock = async (number: number): Promise<ChainBlock> => {
    const raw = (await client.request({
      method: "eth_getBlockByNumber",
      params: [toHex(number), true],
    })) as RawBlock | null;
    // A block that was there a moment ago can vanish when the node reorgs to a shorter chain.
    if (!raw) throw new ChainMovedError(`block ${number} is not on the node`);
    return {
      number: Number(raw.number),
      hash: raw.hash,
      parentHash: raw.parentHash,
      timestamp: Number(raw.timestamp),
      transactions: raw.transactions.map((tx) => ({
        hash: tx.hash,
        from: tx.from.toLowerCase() as `0x${string}`,
        to: tx.to ? (tx.to.toLowerCase() as `0x${string}`) : null,
        value: BigInt(tx.value),
      })),
    };
  };

  return {
    client,
    getHeadNumber: () =>
      withRetry(common, "eth_blockNumber", async () => Number(await client.getBlockNumber({ cacheTime: 0 }))),
    getBlocks: (numbers) =>
      withRetry(common, "eth_getBlockByNumber", () => Promise.all(numbers.map((number) => getBlock(number)))),
    getLogs: (from, to, addresses) =>
      client.request({
        method: "eth_getLogs",
        params: [{ fromBlock: toHex(from), toBlock: toHex(to), address: [...addresses] }],
      }) as Promise<RpcLog[]>,
    isReachable: async () => {
      try {
        await client.getBlockNumber({ cacheTime: 0 });
        return true;
      } catch {
        return false;
      }
    },
  };
}
