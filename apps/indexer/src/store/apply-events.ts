import type { Logger } from "@certchain/common";
import { DECIMAL65_MAX, ETH_CURRENCY_ADDRESS, fitsDecimal65, type TransactionKind } from "@certchain/db";
import type { ChainEvent, LogRef } from "../decode/events.ts";
import { FatalError } from "../errors.ts";
import type { ChainBlock } from "../sync/rpc.ts";
import type { RowTracker } from "./row-tracker.ts";
import { type CertificateRow, type ListingRow, type TransactionRow, toDbDateTime } from "./rows.ts";

/** `revocation_reason` is TEXT: 65,535 bytes. The chain does not bound the reason, so longer ones are cut. */
const MAX_REASON_BYTES = 65_535;
/** `ipfs_hash` is VARCHAR(255). */
const MAX_CID_LENGTH = 255;

export type BatchState = {
  certificates: RowTracker<CertificateRow>;
  listings: RowTracker<ListingRow>;
  transactions: RowTracker<TransactionRow>;
  /** Token id → its active listing id, as loaded, kept current while events apply. */
  activeListingOfToken: Map<number, number>;
};

/**
 * Applies decoded events, in chain order, to the rows of a batch: the indexer's domain rules in one place.
 *
 * Every change sets the row's state outright (never increments), so replaying a range that is already applied
 * leaves the rows as they were: that is what makes a crash between fetch and commit, or `--rebuild`, harmless.
 */
export function applyEvents(
  state: BatchState,
  events: readonly ChainEvent[],
  blocks: ReadonlyMap<number, ChainBlock>,
  logger: Logger,
): void {
  const timeOf = (log: LogRef) => {
    const block = blocks.get(log.blockNumber);
    if (!block) throw new FatalError(`block ${log.blockNumber} of a log was not fetched`);
    return toDbDateTime(block.timestamp);
  };
  const refs = (log: LogRef) => ({ block_number: log.blockNumber, block_hash: log.blockHash, log_index: log.logIndex });
  const certificate = (tokenId: number, log: LogRef) => {
    const row = state.certificates.get(tokenId);
    if (!row) throw new FatalError(`event for unknown certificate ${tokenId} (block ${log.blockNumber})`);
    return row;
  };
  const listing = (listingId: number, log: LogRef) => {
    const row = state.listings.get(listingId);
    if (!row) throw new FatalError(`event for unknown listing ${listingId} (block ${log.blockNumber})`);
    return row;
  };
  /** The contract refuses to sell a listing whose token moved or was revoked; the row says so. */
  const markListingStale = (tokenId: number, log: LogRef) => {
    const listingId = state.activeListingOfToken.get(tokenId);
    if (listingId === undefined) return;
    state.activeListingOfToken.delete(tokenId);
    state.listings.put({ ...listing(listingId, log), status: "stale", ...refs(log) }, log.blockNumber);
  };
  const closeListing = (listingId: number, tokenId: number) => {
    if (state.activeListingOfToken.get(tokenId) === listingId) state.activeListingOfToken.delete(tokenId);
  };

  for (const event of events) {
    const { log } = event;
    switch (event.type) {
      case "certificateIssued": {
        let cid = event.cid;
        if (cid.length > MAX_CID_LENGTH) {
          logger.error({ tokenId: event.tokenId, length: cid.length }, "Stored a CID longer than 255 characters cut");
          cid = cid.slice(0, MAX_CID_LENGTH);
        }
        state.certificates.put(
          {
            token_id: event.tokenId,
            owner_address: event.owner,
            ipfs_hash: cid,
            status: "valid",
            issuer_address: event.issuer,
            issued_at: timeOf(log),
            expires_at: event.expiresAt === 0n ? null : toDbDateTime(event.expiresAt),
            revoked_at: null,
            revoked_by_address: null,
            revocation_reason: null,
            issue_tx_hash: log.txHash,
            issued_block_number: log.blockNumber,
            ...refs(log),
          },
          log.blockNumber,
        );
        break;
      }
      case "certificateTransferred": {
        // The mint's Transfer comes before CertificateIssued in the same transaction, which creates the row.
        if (event.from === ETH_CURRENCY_ADDRESS) break;
        state.certificates.put(
          { ...certificate(event.tokenId, log), owner_address: event.to, ...refs(log) },
          log.blockNumber,
        );
        markListingStale(event.tokenId, log);
        break;
      }
      case "certificateRevoked": {
        state.certificates.put(
          {
            ...certificate(event.tokenId, log),
            status: "invalid",
            revoked_at: timeOf(log),
            revoked_by_address: event.revokedBy,
            revocation_reason: truncateUtf8(event.reason, MAX_REASON_BYTES),
            ...refs(log),
          },
          log.blockNumber,
        );
        markListingStale(event.tokenId, log);
        break;
      }
      case "listed": {
        const priced = fitsDecimal65(event.price);
        if (!priced) logger.error({ listingId: event.listingId }, "Stored a listing priced above DECIMAL(65) as stale");
        state.listings.put(
          {
            listing_id: event.listingId,
            token_id: event.tokenId,
            seller_address: event.seller,
            currency_address: event.currency,
            price: (priced ? event.price : DECIMAL65_MAX).toString(),
            status: priced ? "active" : "stale",
            buyer_address: null,
            fee: null,
            listed_at: timeOf(log),
            closed_at: null,
            created_tx_hash: log.txHash,
            created_block_number: log.blockNumber,
            created_block_hash: log.blockHash,
            created_log_index: log.logIndex,
            ...refs(log),
          },
          log.blockNumber,
        );
        if (priced) state.activeListingOfToken.set(event.tokenId, event.listingId);
        break;
      }
      case "listingCancelled": {
        const row = listing(event.listingId, log);
        state.listings.put({ ...row, status: "cancelled", closed_at: timeOf(log), ...refs(log) }, log.blockNumber);
        closeListing(event.listingId, row.token_id);
        break;
      }
      case "sold": {
        const row = listing(event.listingId, log);
        state.listings.put(
          {
            ...row,
            status: "sold",
            buyer_address: event.buyer,
            fee: fitsDecimal65(event.fee) ? event.fee.toString() : null,
            closed_at: timeOf(log),
            ...refs(log),
          },
          log.blockNumber,
        );
        closeListing(event.listingId, row.token_id);
        break;
      }
      case "proceedsWithdrawn":
      case "paymentTokenTransferred":
      case "approval":
      case "roleChanged":
      case "other":
        // Rows of `transactions` only (below).
        break;
    }
  }

  applyTransactions(state, events, blocks, logger);
}

/** What a transaction was, from the platform's point of view: the most telling event of it decides. */
type TransactionSummary = {
  kind: TransactionKind;
  amount: bigint | null;
  currency: `0x${string}` | null;
  tokenId: number | null;
};

const KIND_PRIORITY: readonly TransactionKind[] = [
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
];

function summarize(event: ChainEvent, listingToken: (listingId: number) => number | null): TransactionSummary {
  const none = { amount: null, currency: null, tokenId: null };
  switch (event.type) {
    case "sold":
      return { kind: "buy", amount: event.price, currency: event.currency, tokenId: event.tokenId };
    case "listed":
      return { kind: "list", amount: event.price, currency: event.currency, tokenId: event.tokenId };
    case "listingCancelled":
      return { ...none, kind: "cancel", tokenId: listingToken(event.listingId) };
    case "proceedsWithdrawn":
      return { kind: "withdraw", amount: event.amount, currency: event.currency, tokenId: null };
    case "certificateIssued":
      return { ...none, kind: "issue", tokenId: event.tokenId };
    case "certificateRevoked":
      return { ...none, kind: "revoke", tokenId: event.tokenId };
    case "certificateTransferred":
      return { ...none, kind: event.from === ETH_CURRENCY_ADDRESS ? "issue" : "transfer", tokenId: event.tokenId };
    case "paymentTokenTransferred":
      return { kind: "token_transfer", amount: event.value, currency: event.log.address, tokenId: null };
    case "approval":
      return { ...none, kind: "approve", tokenId: event.tokenId };
    case "roleChanged":
      return { ...none, kind: "role" };
    case "other":
      return { ...none, kind: "other" };
  }
}

/**
 * One `transactions` row per transaction that emitted a log of our contracts. Such a transaction succeeded (reverted
 * transactions leave no logs), so the row is `completed`; a `pending` row the relayer inserted for the same hash is
 * completed in place, keeping its `tx_request_id`.
 */
function applyTransactions(
  state: BatchState,
  events: readonly ChainEvent[],
  blocks: ReadonlyMap<number, ChainBlock>,
  logger: Logger,
): void {
  const byHash = new Map<string, ChainEvent[]>();
  for (const event of events) {
    const list = byHash.get(event.log.txHash);
    if (list) list.push(event);
    else byHash.set(event.log.txHash, [event]);
  }
  const listingToken = (listingId: number) => state.listings.get(listingId)?.token_id ?? null;

  for (const [hash, txEvents] of byHash) {
    const first = txEvents[0] as ChainEvent;
    const block = blocks.get(first.log.blockNumber);
    const tx = block?.transactions.find((candidate) => candidate.hash === hash);
    if (!block || !tx) throw new FatalError(`transaction ${hash} is not in block ${first.log.blockNumber}`);
    const summary = txEvents
      .map((event) => summarize(event, listingToken))
      .sort((a, b) => KIND_PRIORITY.indexOf(a.kind) - KIND_PRIORITY.indexOf(b.kind))[0] as TransactionSummary;
    let amount = summary.amount;
    if (amount !== null && !fitsDecimal65(amount)) {
      logger.error({ txHash: hash }, "Stored an amount above DECIMAL(65) as NULL");
      amount = null;
    }
    const existing = state.transactions.get(hash as `0x${string}`);
    state.transactions.put(
      {
        tx_hash: hash as `0x${string}`,
        from_address: tx.from,
        // A contract creation has no `to`; the contract it created is the one that logged.
        to_address: tx.to ?? first.log.address,
        amount: amount === null ? null : amount.toString(),
        token_id: summary.tokenId,
        status: "completed",
        kind: summary.kind,
        currency_address: summary.currency,
        block_number: first.log.blockNumber,
        block_hash: first.log.blockHash,
        log_index: first.log.logIndex,
        block_timestamp: toDbDateTime(block.timestamp),
        tx_request_id: existing?.tx_request_id ?? null,
        failure_reason: null,
      },
      first.log.blockNumber,
    );
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes) cut = cut.slice(0, -1);
  return cut;
}
