import type { Logger } from "@certchain/common";
import { ETH_CURRENCY_ADDRESS, fitsDecimal65, type TransactionKind } from "@certchain/db";
import type { ChainEvent } from "../decode/events.ts";
import { FatalError } from "../errors.ts";
import type { RangeData } from "../sync/range-fetcher.ts";
import type { ChainTransaction } from "../sync/rpc.ts";
import type { RowTracker } from "./row-tracker.ts";
import type { DbDateTime, ListingRow, TransactionRow } from "./rows.ts";

type Address = `0x${string}`;
type Hash = `0x${string}`;

/** The reason a mined transaction that reverted gives in `failure_reason`. */
const REVERTED = "reverted";

/** What a transaction was, from the platform's point of view: the most telling event of it decides. */
type TransactionSummary = {
  kind: TransactionKind;
  amount: bigint | null;
  currency: Address | null;
  tokenId: number | null;
  /**
   * Who the certificate or the value moved between, when that is not the transaction's sender and recipient (one of
   * our contracts, or the token contract): so that both find the row among their transactions.
   */
  parties: { from: Address; to: Address } | null;
};

/** Lower wins. */
const KIND_PRIORITY = new Map<TransactionKind, number>(
  (
    [
      "buy",
      "list",
      "cancel",
      "withdraw",
      "issue",
      "revoke",
      "transfer",
      "token_transfer",
      "approve",
      "role",
      "other",
    ] as const
  ).map((kind, i) => [kind, i]),
);

/** One shape for every summary (object literals of one shape keep this hot path monomorphic). */
function summary(
  kind: TransactionKind,
  tokenId: number | null = null,
  amount: bigint | null = null,
  currency: Address | null = null,
  parties: TransactionSummary["parties"] = null,
): TransactionSummary {
  return { kind, amount, currency, tokenId, parties };
}

function summarize(
  event: ChainEvent,
  listingToken: (listingId: number) => number | null,
  holderAtRevocation: (event: ChainEvent) => Address | undefined,
): TransactionSummary {
  switch (event.type) {
    case "sold":
      // The price goes from the buyer to the seller (as proceeds to withdraw), the certificate the other way.
      return summary("buy", event.tokenId, event.price, event.currency, { from: event.buyer, to: event.seller });
    case "listed":
      return summary("list", event.tokenId, event.price, event.currency);
    case "listingCancelled":
      return summary("cancel", listingToken(event.listingId));
    case "proceedsWithdrawn":
      return summary("withdraw", null, event.amount, event.currency);
    case "certificateIssued":
      return summary("issue", event.tokenId, null, null, { from: event.issuer, to: event.owner });
    case "certificateRevoked": {
      const holder = holderAtRevocation(event);
      return summary("revoke", event.tokenId, null, null, holder ? { from: event.revokedBy, to: holder } : null);
    }
    case "certificateTransferred":
      // A mint's Transfer: the transaction's CertificateIssued names the issuer and the recipient.
      if (event.from === ETH_CURRENCY_ADDRESS) return summary("issue", event.tokenId);
      return summary("transfer", event.tokenId, null, null, { from: event.from, to: event.to });
    case "paymentTokenTransferred":
      return summary("token_transfer", null, event.value, event.log.address, { from: event.from, to: event.to });
    case "approval":
      return summary("approve", event.tokenId);
    case "roleChanged":
      return summary("role");
    case "other":
      return summary("other");
  }
}

/**
 * Rows of `transactions` for a batch, one per transaction hash:
 *
 * - a transaction that emitted platform logs: its kind, amount and token from its most telling event;
 * - a plain ETH transfer from or to a platform wallet (`eth_transfer`, with its value);
 * - a transaction a relayer's `pending` row waits for and that did neither (it reverted, or moved nothing): the
 *   row keeps what the relayer said it does and takes the receipt's status and block.
 *
 * Status comes from the receipt: `completed`, or `failed` with reason `reverted`. A relayer's row is completed in
 * place, keeping its `tx_request_id`; a reorg that removes the block restores it to `pending` (the undo log).
 */
export function applyTransactions(
  state: {
    transactions: RowTracker<TransactionRow>;
    listings: RowTracker<ListingRow>;
  },
  range: Pick<RangeData, "events" | "transactions" | "wallets">,
  lookups: {
    blockTime: (blockNumber: number) => DbDateTime;
    /** The owner of the certificate a `certificateRevoked` event revoked, as the events before it left it. */
    holderAtRevocation: (event: ChainEvent) => Address | undefined;
  },
  logger: Logger,
): void {
  const { blockTime, holderAtRevocation } = lookups;
  const byHash = new Map<Hash, ChainEvent[]>();
  for (const event of range.events) {
    const list = byHash.get(event.log.txHash);
    if (list) list.push(event);
    else byHash.set(event.log.txHash, [event]);
  }
  const listingToken = (listingId: number) => state.listings.get(listingId)?.token_id ?? null;
  const involvesWallet = (summary: TransactionSummary) =>
    summary.parties !== null && (range.wallets.has(summary.parties.from) || range.wallets.has(summary.parties.to));
  /**
   * Between two events of the same kind: the one that names the parties (an issue's CertificateIssued over its mint's
   * Transfer), and among token transfers the one a platform wallet is party to.
   */
  const betterParties = (best: TransactionSummary, candidate: TransactionSummary) =>
    candidate.parties !== null && (best.parties === null || (!involvesWallet(best) && involvesWallet(candidate)));
  const storedAmount = (hash: Hash, amount: bigint | null) => {
    if (amount === null || fitsDecimal65(amount)) return amount === null ? null : amount.toString();
    logger.error({ txHash: hash }, "Stored an amount above DECIMAL(65) as NULL");
    return null;
  };
  /** The row of a mined transaction; written out whole, one shape for every row. */
  const row = (
    transaction: ChainTransaction,
    what: Pick<TransactionRow, "from_address" | "to_address" | "amount" | "token_id" | "kind" | "currency_address">,
    logIndex: number | null,
    txRequestId: string | null,
  ): TransactionRow => ({
    tx_hash: transaction.hash,
    from_address: what.from_address,
    to_address: what.to_address,
    amount: what.amount,
    token_id: what.token_id,
    status: transaction.status === "success" ? "completed" : "failed",
    kind: what.kind,
    currency_address: what.currency_address,
    block_number: transaction.blockNumber,
    block_hash: transaction.blockHash,
    log_index: logIndex,
    block_timestamp: blockTime(transaction.blockNumber),
    tx_request_id: txRequestId,
    failure_reason: transaction.status === "success" ? null : REVERTED,
  });

  for (const [hash, events] of byHash) {
    const transaction = range.transactions.get(hash);
    if (!transaction) throw new FatalError(`no receipt was read for transaction ${hash}`);
    let best: TransactionSummary | undefined;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const event of events) {
      const candidate = summarize(event, listingToken, holderAtRevocation);
      const rank = KIND_PRIORITY.get(candidate.kind) as number;
      if (rank < bestRank || (rank === bestRank && best && betterParties(best, candidate))) {
        best = candidate;
        bestRank = rank;
      }
    }
    const chosen = best as TransactionSummary;
    const what = {
      from_address: chosen.parties?.from ?? transaction.from,
      to_address: chosen.parties?.to ?? transaction.to,
      amount: storedAmount(hash, chosen.amount),
      token_id: chosen.tokenId,
      kind: chosen.kind,
      currency_address: chosen.currency,
    };
    const logIndex = (events[0] as ChainEvent).log.logIndex;
    const txRequestId = state.transactions.get(hash)?.tx_request_id ?? null;
    state.transactions.put(row(transaction, what, logIndex, txRequestId), transaction.blockNumber);
  }

  for (const [hash, transaction] of range.transactions) {
    if (byHash.has(hash)) continue;
    const existing = state.transactions.get(hash);
    // Already recorded as mined in this very block, by an earlier batch: the batches overlap in time, so this one may
    // have read the hash as `pending` before that batch committed, and met its receipt without the logs the earlier
    // batch applied. Rewriting the row from the receipt alone would lose what those logs said (the parties).
    if (existing && existing.status !== "pending" && existing.block_hash === transaction.blockHash) continue;
    if (transaction.value !== null) {
      const what = {
        from_address: transaction.from,
        to_address: transaction.to,
        amount: storedAmount(hash, transaction.value),
        token_id: null,
        kind: "eth_transfer" as const,
        currency_address: ETH_CURRENCY_ADDRESS,
      };
      state.transactions.put(row(transaction, what, null, existing?.tx_request_id ?? null), transaction.blockNumber);
    } else if (existing) {
      // What the relayer said it does stays; where and how it was mined comes from the receipt.
      const what = { ...existing, from_address: transaction.from, to_address: transaction.to };
      state.transactions.put(row(transaction, what, null, existing.tx_request_id), transaction.blockNumber);
    }
  }
}
