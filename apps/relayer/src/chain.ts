import { UserFacingError } from "@certchain/common";
import {
  BaseError,
  type Chain,
  createPublicClient,
  decodeErrorResult,
  defineChain,
  type Hash,
  type Hex,
  http,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
} from "viem";
import { type ContractCall, revertAbi } from "./calls.ts";
import { FatalError, RetryableError } from "./errors.ts";

/** Fee estimates are shared by every job of a process for this long: one RPC call instead of one per transaction. */
const FEE_CACHE_MS = 1000;
/**
 * Calls made in the same tick go to the node as one JSON-RPC batch (up to this many): a wallet's batch of simulations
 * or broadcasts, the follower's block reads. One HTTP round trip instead of hundreds.
 */
const RPC_BATCH_SIZE = 500;
/** Gas limit headroom over the estimate: state may change a little between simulation and inclusion. */
const GAS_HEADROOM_PERCENT = 120n;

export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

/** How the node answered a broadcast; every other answer is thrown as a `RetryableError`. */
export type BroadcastResult =
  /** Accepted now, or earlier ("already known"), or a sibling with our nonce is pending ("underpriced"). */
  | "accepted"
  /** The nonce is used on chain: by one of this request's variants, or by a foreign transaction. */
  | "nonce_too_low"
  /** Nodes that refuse to queue behind a missing nonce: the gap must be filled first. */
  | "nonce_too_high"
  | "insufficient_funds"
  /** Its max fee is below the block's base fee (the base fee rose after it was signed): it must be signed again. */
  | "underpriced";

/** A block as the follower needs it: where it sits in the chain and which transactions it holds. */
export type BlockSummary = { number: bigint; hash: Hash; parentHash: Hash; transactions: Hash[] };

/** What finality needs from a receipt. */
export type ReceiptOutcome = { transactionHash: Hash; blockHash: Hash; status: "success" | "reverted" };

export type RelayerChain = {
  client: PublicClient<Transport, Chain>;
  /** Current EIP-1559 fees (cached for a second). */
  fees(): Promise<Fees>;
  /**
   * Simulates the call on the latest block and returns its gas limit; a revert is a `FatalError` named after the
   * decoded custom error. Pending transactions are not applied: a request that needs another's effect declares it with
   * `dependsOn` and is simulated once that one is mined.
   */
  simulate(from: Hex, call: ContractCall): Promise<bigint>;
  broadcast(rawTx: Hex): Promise<BroadcastResult>;
  /** The receipt in the canonical chain, or `null` when the transaction is not mined (or a reorg removed it). */
  receipt(hash: Hash): Promise<TransactionReceipt | null>;
  /** True when the node knows the transaction (pending or mined). */
  isKnown(hash: Hash): Promise<boolean>;
  /** The canonical block at a height, or `null` beyond the head. */
  block(number: bigint): Promise<BlockSummary | null>;
  /** Every receipt of a block, by hash (so a reorg cannot swap the block under the call). */
  blockReceipts(blockHash: Hash): Promise<ReceiptOutcome[]>;
};

export async function connectChain(rpcUrl: string, chainId: number): Promise<RelayerChain> {
  const chain = defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const client = createPublicClient({
    chain,
    transport: http(rpcUrl, { retryCount: 2, batch: { batchSize: RPC_BATCH_SIZE } }),
  });
  let nodeChainId: number;
  try {
    nodeChainId = await client.getChainId();
  } catch (error) {
    throw new UserFacingError(`cannot reach the Ethereum node at ${rpcUrl} (ETH_NODE_URL)`, { cause: error });
  }
  if (nodeChainId !== chainId) {
    throw new UserFacingError(`the Ethereum node at ${rpcUrl} is on chain ${nodeChainId}, but CHAIN_ID is ${chainId}`);
  }

  let cachedFees: { at: number; fees: Promise<Fees> } | undefined;

  return {
    client,
    fees() {
      if (!cachedFees || Date.now() - cachedFees.at > FEE_CACHE_MS) {
        const fees = client.estimateFeesPerGas().catch((error: unknown) => {
          cachedFees = undefined;
          throw new RetryableError("could not estimate fees", { cause: error });
        });
        cachedFees = { at: Date.now(), fees };
      }
      return cachedFees.fees;
    },

    async simulate(from, call) {
      try {
        // Against the latest block, not the node's default "pending": anvil builds a pending block out of the whole
        // mempool for every such call, which under load means re-running thousands of queued transactions each time.
        const gas = await client.estimateGas({
          account: from,
          to: call.to,
          data: call.data,
          value: call.value,
          blockTag: "latest",
        });
        return (gas * GAS_HEADROOM_PERCENT) / 100n;
      } catch (error) {
        throw classifySimulationError(error);
      }
    },

    async broadcast(rawTx) {
      try {
        await client.sendRawTransaction({ serializedTransaction: rawTx });
        return "accepted";
      } catch (error) {
        const text = errorText(error);
        // A sibling with higher fees holds the nonce in the pool (geth's and anvil's wordings).
        if (
          /already known|already imported|replacement transaction underpriced|insufficient gas price to replace/i.test(
            text,
          )
        )
          return "accepted";
        if (/nonce too low/i.test(text)) return "nonce_too_low";
        if (/nonce too high/i.test(text)) return "nonce_too_high";
        if (/insufficient funds/i.test(text)) return "insufficient_funds";
        if (/less than block base fee|fee cap less than|transaction underpriced|fee too low/i.test(text))
          return "underpriced";
        // Anything else (timeout, refused connection, rate limit) may or may not have reached the node: the bytes
        // are persisted, so the retry resends them and the node's answer then tells.
        throw new RetryableError(`broadcast failed: ${shortMessage(error)}`, { cause: error });
      }
    },

    async receipt(hash) {
      try {
        return await client.getTransactionReceipt({ hash });
      } catch (error) {
        if (error instanceof BaseError && error.name === "TransactionReceiptNotFoundError") return null;
        throw new RetryableError(`could not read the receipt of ${hash}`, { cause: error });
      }
    },

    async isKnown(hash) {
      try {
        await client.getTransaction({ hash });
        return true;
      } catch (error) {
        if (error instanceof BaseError && error.name === "TransactionNotFoundError") return false;
        throw new RetryableError(`could not look up ${hash}`, { cause: error });
      }
    },

    async block(number) {
      try {
        const block = await client.getBlock({ blockNumber: number });
        return { number, hash: block.hash, parentHash: block.parentHash, transactions: block.transactions };
      } catch (error) {
        if (error instanceof BaseError && error.name === "BlockNotFoundError") return null;
        throw new RetryableError(`could not read block ${number}`, { cause: error });
      }
    },

    async blockReceipts(blockHash) {
      try {
        const receipts = await client.getBlockReceipts({ blockHash });
        return receipts.map(({ transactionHash, blockHash, status }) => ({ transactionHash, blockHash, status }));
      } catch (error) {
        throw new RetryableError(`could not read the receipts of block ${blockHash}`, { cause: error });
      }
    },
  };
}

/** A revert becomes a `FatalError` named after the decoded custom error; anything else is worth retrying. */
function classifySimulationError(error: unknown): Error {
  const data = revertData(error);
  const text = errorText(error);
  if (data !== undefined) {
    try {
      const decoded = decodeErrorResult({ abi: revertAbi, data });
      const args = (decoded.args ?? []).map(String).join(", ");
      return new FatalError(decoded.errorName, `would revert: ${decoded.errorName}(${args})`, { cause: error });
    } catch {
      return new FatalError("reverted", `would revert (undecoded data ${data.slice(0, 10)})`, { cause: error });
    }
  }
  if (/insufficient funds/i.test(text)) {
    return new FatalError("insufficient_funds", "the sending wallet cannot pay for this transaction", { cause: error });
  }
  if (/revert/i.test(text)) return new FatalError("reverted", "would revert", { cause: error });
  return new RetryableError(`simulation failed: ${shortMessage(error)}`, { cause: error });
}

function revertData(error: unknown): Hex | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const data = (e as { data?: unknown }).data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data)) return data as Hex;
  }
  return undefined;
}

function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    parts.push(e.message, String((e as { details?: unknown }).details ?? ""));
  }
  return parts.join(" | ");
}

function shortMessage(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage;
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
}
