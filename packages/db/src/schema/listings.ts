import { bigint, datetime, index, mysqlEnum, mysqlTable, unique } from "drizzle-orm/mysql-core";
import {
  address,
  addressCheck,
  blockNumber,
  createdAt,
  hash,
  hashCheck,
  logIndex,
  nonNegativeCheck,
  rowId,
  updatedAt,
  wei,
} from "./columns.ts";

/**
 * `active` until sold or cancelled on chain (listing the token again supersedes, i.e. cancels, the old listing);
 * `stale` when the indexer sees the token move away from the seller or get revoked while listed, which the contract
 * would refuse to sell.
 */
export const listingStatuses = ["active", "sold", "cancelled", "stale"] as const;
export type ListingStatus = (typeof listingStatuses)[number];

/**
 * One row per Marketplace listing, written only by the indexer.
 *
 * `price` is DECIMAL(65,0) like the seed's amounts; the contract takes any uint256 above 0, so a listing priced above
 * `DECIMAL65_MAX` (which no one could pay: that is ~10^47 ETH) cannot be stored. The API refuses such prices; the
 * indexer should record such a listing as `stale` with `price = DECIMAL65_MAX` and log it, rather than stop.
 *
 * Market browsing: active listings by price within a currency (prices in different currencies do not compare), by
 * price across currencies, or newest first (`listing_id` grows with time on chain); a seller's listings; the listings
 * of a token (to mark them stale).
 */
export const listings = mysqlTable(
  "listings",
  {
    id: rowId("id").primaryKey().autoincrement(),
    /** The Marketplace's listing id: sequential from 1 on chain, a signed BIGINT like `token_id`. */
    listingId: bigint("listing_id", { mode: "number" }).notNull(),
    tokenId: bigint("token_id", { mode: "number" }).notNull(),
    sellerAddress: address("seller_address").notNull(),
    /** `ETH_CURRENCY_ADDRESS` (the zero address) for ETH, else the allow-listed ERC-20. */
    currencyAddress: address("currency_address").notNull(),
    /** In wei or token base units. */
    price: wei("price").notNull(),
    status: mysqlEnum("status", listingStatuses).notNull().default("active"),
    buyerAddress: address("buyer_address"),
    /** The platform fee taken by the sale, in the listing's currency; NULL unless sold. */
    fee: wei("fee"),
    /** Timestamp of the listing's block (UTC). */
    listedAt: datetime("listed_at").notNull(),
    /** Timestamp of the block that sold or cancelled it (UTC). */
    closedAt: datetime("closed_at"),

    /** The `Listed` log. */
    createdTxHash: hash("created_tx_hash").notNull(),
    createdBlockNumber: blockNumber("created_block_number").notNull(),
    createdBlockHash: hash("created_block_hash").notNull(),
    createdLogIndex: logIndex("created_log_index").notNull(),
    /** The log that last changed the row (the `Listed` log until something else happens). */
    blockNumber: blockNumber("block_number").notNull(),
    blockHash: hash("block_hash").notNull(),
    logIndex: logIndex("log_index").notNull(),

    createdAt: createdAt().notNull(),
    updatedAt: updatedAt().notNull(),
  },
  (t) => [
    unique("listings_listing_id_uq").on(t.listingId),
    index("listings_status_price_idx").on(t.status, t.price, t.listingId),
    index("listings_status_currency_price_idx").on(t.status, t.currencyAddress, t.price, t.listingId),
    index("listings_status_listing_id_idx").on(t.status, t.listingId),
    index("listings_seller_listing_id_idx").on(t.sellerAddress, t.listingId),
    index("listings_token_status_idx").on(t.tokenId, t.status),
    addressCheck("listings", t.sellerAddress),
    addressCheck("listings", t.currencyAddress),
    addressCheck("listings", t.buyerAddress),
    hashCheck("listings", t.createdTxHash),
    hashCheck("listings", t.createdBlockHash),
    hashCheck("listings", t.blockHash),
    nonNegativeCheck("listings", t.price),
    nonNegativeCheck("listings", t.fee),
  ],
);
