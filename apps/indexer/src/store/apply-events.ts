import type { Logger } from "@certchain/common";
import { DECIMAL65_MAX, ETH_CURRENCY_ADDRESS, fitsDecimal65 } from "@certchain/db";
import type { ChainEvent, LogRef } from "../decode/events.ts";
import { FatalError } from "../errors.ts";
import type { RangeData } from "../sync/range-fetcher.ts";
import { applyTransactions } from "./apply-transactions.ts";
import type { RowTracker } from "./row-tracker.ts";
import { type CertificateRow, type DbDateTime, type ListingRow, type TransactionRow, toDbDateTime } from "./rows.ts";

/** `revocation_reason` is TEXT: 65,535 bytes. The chain does not bound the reason, so longer ones are cut. */
const MAX_REASON_BYTES = 65_535;
/** `ipfs_hash` is VARCHAR(255). */
const MAX_CID_LENGTH = 255;
const utf8 = new TextEncoder();

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
  range: Pick<RangeData, "events" | "blocks" | "transactions" | "wallets">,
  logger: Logger,
): void {
  const blockTimes = new Map<number, DbDateTime>();
  /** The block's time as a DATETIME, converted once per block. */
  const blockTime = (blockNumber: number) => {
    let time = blockTimes.get(blockNumber);
    if (time === undefined) {
      const block = range.blocks.get(blockNumber);
      if (!block) throw new FatalError(`block ${blockNumber} of a row was not fetched`);
      time = toDbDateTime(block.timestamp);
      blockTimes.set(blockNumber, time);
    }
    return time;
  };
  const timeOf = (log: LogRef) => blockTime(log.blockNumber);
  // Rows are built as literals (at most one leading spread, then the block refs written out): spreading several
  // objects into one is several times slower, and this runs for every event of the backfill.
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
    state.listings.put(
      {
        ...listing(listingId, log),
        status: "stale",
        block_number: log.blockNumber,
        block_hash: log.blockHash,
        log_index: log.logIndex,
      },
      log.blockNumber,
    );
  };
  /** Whose certificate each revocation struck, for its `transactions` row. */
  const holdersAtRevocation = new Map<ChainEvent, `0x${string}`>();
  const closeListing = (listingId: number, tokenId: number) => {
    if (state.activeListingOfToken.get(tokenId) === listingId) state.activeListingOfToken.delete(tokenId);
  };

  for (const event of range.events) {
    const { log } = event;
    switch (event.type) {
      case "certificateIssued": {
        const cid = truncateCharacters(event.cid, MAX_CID_LENGTH);
        if (cid !== event.cid) {
          logger.error(
            { tokenId: event.tokenId, length: event.cid.length },
            "Stored a CID longer than 255 characters cut",
          );
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
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
          },
          log.blockNumber,
        );
        break;
      }
      case "certificateTransferred": {
        // The mint's Transfer comes before CertificateIssued in the same transaction, which creates the row.
        if (event.from === ETH_CURRENCY_ADDRESS) break;
        state.certificates.put(
          {
            ...certificate(event.tokenId, log),
            owner_address: event.to,
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
          },
          log.blockNumber,
        );
        markListingStale(event.tokenId, log);
        break;
      }
      case "certificateRevoked": {
        const row = certificate(event.tokenId, log);
        holdersAtRevocation.set(event, row.owner_address);
        state.certificates.put(
          {
            ...row,
            status: "invalid",
            revoked_at: timeOf(log),
            revoked_by_address: event.revokedBy,
            revocation_reason: truncateUtf8(event.reason, MAX_REASON_BYTES),
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
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
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
          },
          log.blockNumber,
        );
        if (priced) state.activeListingOfToken.set(event.tokenId, event.listingId);
        break;
      }
      case "listingCancelled": {
        const row = listing(event.listingId, log);
        state.listings.put(
          {
            ...row,
            status: "cancelled",
            closed_at: timeOf(log),
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
          },
          log.blockNumber,
        );
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
            block_number: log.blockNumber,
            block_hash: log.blockHash,
            log_index: log.logIndex,
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

  applyTransactions(state, range, { blockTime, holderAtRevocation: (event) => holdersAtRevocation.get(event) }, logger);
}

/** The longest start of `text` that fits `maxBytes` of UTF-8, never cutting a character (nor a surrogate pair) in two. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  // encodeInto writes whole characters only, and says how much of the string they were.
  const { read } = utf8.encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

/** The first `max` characters (code points, as MariaDB counts them) of `text`, never splitting a surrogate pair. */
function truncateCharacters(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = 0;
  let count = 0;
  for (const character of text) {
    if (count === max) break;
    end += character.length;
    count += 1;
  }
  return text.slice(0, end);
}
