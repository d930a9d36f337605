import { createPublicClient, type Hash, http, type PublicClient, type RpcLog, toHex } from "viem";
import type { Common } from "../common.ts";
import { ChainMovedError } from "../errors.ts";
import { withRetry } from "./retry.ts";

/** One HTTP request carries up to this many JSON-RPC calls (headers, receipts by hash: small answers). */
const RPC_BATCH_SIZE = 200;
/**
 * Block receipts are large (a full block's are megabytes on a busy chain), so fewer per HTTP request; requests go out
 * concurrently, which also lets the node answer them on several threads.
 */
const RECEIPTS_BATCH_SIZE = 20;
/** A call slower than this is treated as failed (and, for logs, as a range too large). */
const RPC_TIMEOUT_MS = 15_000;

type Address = `0x${string}`;

/** A block as the indexer needs it: its place in the chain and its time (`eth_getBlockByNumber` without bodies). */
export type BlockHeader = {
  number: number;
  hash: Hash;
  parentHash: Hash;
  /** Unix seconds. */
  timestamp: number;
};

/** A mined transaction, from its receipt: who sent it where, where it was mined and whether it reverted. */
export type ChainTransaction = {
  hash: Hash;
  blockNumber: number;
  blockHash: Hash;
  /** Lowercase. */
  from: Address;
  /** Lowercase; for a contract creation, the contract created. */
  to: Address;
  status: "success" | "reverted";
  /** Wei sent; receipts do not carry it, so it is only known (non-null) where the indexer asked for it. */
  value: bigint | null;
};

export type Rpc = {
  /** The node's latest block number. */
  getHeadNumber(): Promise<number>;
  /** Block headers by number, in the order asked (batched into few HTTP requests). */
  getHeaders(numbers: readonly number[]): Promise<BlockHeader[]>;
  /**
   * Every transaction of each block, from `eth_getBlockReceipts`, in the order asked, each block's receipts passed
   * through `select` as soon as they arrive: the raw answer is large and short-lived, what the caller keeps is small
   * (so the raw objects die young, which spares the garbage collector most of its work).
   */
  getBlockReceipts<T>(numbers: readonly number[], select: (receipts: ReceiptWithLogs[]) => T): Promise<T[]>;
  /** Receipts by transaction hash; null for a transaction not mined (or unknown to the node). */
  getReceipts(hashes: readonly Hash[]): Promise<Array<ChainTransaction | null>>;
  /** The wei each transaction sends (`eth_getTransactionByHash`), in the order asked. */
  getValues(hashes: readonly Hash[]): Promise<bigint[]>;
  /** `eth_getLogs` over [from, to] for `addresses`, raw (one call: range adaptation lives in the log fetcher). */
  getLogs(from: number, to: number, addresses: readonly Address[]): Promise<RpcLog[]>;
  /** True when the node answers; for readiness probes, without retries. */
  isReachable(): Promise<boolean>;
  /** The raw viem client (reads of contract state in tools and tests). */
  client: PublicClient;
};

/** A receipt with its logs, as `getBlockReceipts` hands it to its `select`. */
export type ReceiptWithLogs = ChainTransaction & { logs: RpcLog[] };

type RawHeader = { number: `0x${string}`; hash: Hash; parentHash: Hash; timestamp: `0x${string}` };
type RawReceipt = {
  transactionHash: Hash;
  blockNumber: `0x${string}`;
  blockHash: Hash;
  from: Address;
  to: Address | null;
  contractAddress: Address | null;
  /** Absent on pre-Byzantium receipts, which have no failure status. */
  status?: `0x${string}`;
  logs: RpcLog[];
};

function toTransaction(raw: RawReceipt): ChainTransaction {
  return {
    hash: raw.transactionHash,
    blockNumber: Number(raw.blockNumber),
    blockHash: raw.blockHash,
    from: raw.from.toLowerCase() as Address,
    to: (raw.to ?? raw.contractAddress ?? raw.from).toLowerCase() as Address,
    status: raw.status === "0x0" ? "reverted" : "success",
    value: null,
  };
}

/**
 * JSON-RPC access with retries. Raw `request` calls rather than viem's formatted actions: the indexer reads tens of
 * thousands of logs per second, and only needs a few fields of each. Blocks are read as headers and receipts, never
 * with their transaction bodies: on anvil a body costs ~6× its receipt (the sender is recovered from the signature).
 */
export function createRpc(common: Pick<Common, "config" | "logger" | "metrics" | "shutdown">): Rpc {
  const transport = (batchSize: number, maxResponseBodySize?: false) =>
    http(common.config.ethNodeUrl, {
      batch: { batchSize, wait: 0 },
      retryCount: 0,
      timeout: RPC_TIMEOUT_MS,
      maxResponseBodySize,
    });
  // `eth_getLogs` keeps viem's 10 MiB answer limit: an answer over it means "ask for fewer blocks" (log-fetcher.ts).
  const client = createPublicClient({ transport: transport(RPC_BATCH_SIZE) });
  // Bulk reads are bounded by what they ask for (a batch of headers, receipts of RECEIPTS_BATCH_SIZE blocks), so
  // they skip the limit, whose streamed decoding costs a third of the time spent parsing receipts.
  const bulkClient = createPublicClient({ transport: transport(RPC_BATCH_SIZE, false) });
  const receiptsClient = createPublicClient({ transport: transport(RECEIPTS_BATCH_SIZE, false) });

  const getHeader = async (number: number): Promise<BlockHeader> => {
    const raw = (await bulkClient.request({
      method: "eth_getBlockByNumber",
      params: [toHex(number), false],
    })) as RawHeader | null;
    // A block that was there a moment ago can vanish when the node reorgs to a shorter chain.
    if (!raw) throw new ChainMovedError(`block ${number} is not on the node`);
    return {
      number: Number(raw.number),
      hash: raw.hash,
      parentHash: raw.parentHash,
      timestamp: Number(raw.timestamp),
    };
  };

  const getBlockReceipts = async (number: number): Promise<ReceiptWithLogs[]> => {
    const raw = (await receiptsClient.request({
      method: "eth_getBlockReceipts" as "eth_getBlockByNumber",
      params: [toHex(number)] as never,
    })) as unknown as RawReceipt[] | null;
    if (!raw) throw new ChainMovedError(`block ${number} is not on the node`);
    return raw.map((receipt) => ({ ...toTransaction(receipt), logs: receipt.logs }));
  };

  const getReceipt = async (hash: Hash): Promise<ChainTransaction | null> => {
    const raw = (await bulkClient.request({
      method: "eth_getTransactionReceipt",
      params: [hash],
    })) as RawReceipt | null;
    return raw ? toTransaction(raw) : null;
  };

  const getValue = async (hash: Hash): Promise<bigint> => {
    const raw = (await bulkClient.request({ method: "eth_getTransactionByHash", params: [hash] })) as {
      value: `0x${string}`;
    } | null;
    if (!raw) throw new ChainMovedError(`transaction ${hash} is not on the node`);
    return BigInt(raw.value);
  };

  return {
    client,
    getHeadNumber: () =>
      withRetry(common, "eth_blockNumber", async () => Number(await client.getBlockNumber({ cacheTime: 0 }))),
    getHeaders: (numbers) =>
      withRetry(common, "eth_getBlockByNumber", () => Promise.all(numbers.map((number) => getHeader(number)))),
    getBlockReceipts: (numbers, select) =>
      withRetry(common, "eth_getBlockReceipts", () =>
        Promise.all(numbers.map(async (number) => select(await getBlockReceipts(number)))),
      ),
    getReceipts: (hashes) =>
      withRetry(common, "eth_getTransactionReceipt", () => Promise.all(hashes.map((hash) => getReceipt(hash)))),
    getValues: (hashes) =>
      withRetry(common, "eth_getTransactionByHash", () => Promise.all(hashes.map((hash) => getValue(hash)))),
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
