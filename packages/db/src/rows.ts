import type {
  apiKeys,
  certificateDocuments,
  certificates,
  indexerBlocks,
  indexerCursor,
  indexerLock,
  indexerUndoLog,
  listings,
  sessions,
  transactions,
  txRequestHashes,
  txRequests,
  users,
  walletNonces,
  wallets,
} from "./schema/index.ts";

/* Row types: `X` is what a select returns, `NewX` what an insert accepts (defaults and generated columns optional). */

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type Session = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;
export type Wallet = typeof wallets.$inferSelect;
export type NewWallet = typeof wallets.$inferInsert;
export type Certificate = typeof certificates.$inferSelect;
export type NewCertificate = typeof certificates.$inferInsert;
export type CertificateDocument = typeof certificateDocuments.$inferSelect;
/** A row of `transactions` (an on-chain transaction), not a database transaction (`DbTransaction`). */
export type Transaction = typeof transactions.$inferSelect;
export type NewTransaction = typeof transactions.$inferInsert;
export type Listing = typeof listings.$inferSelect;
export type NewListing = typeof listings.$inferInsert;
export type TxRequest = typeof txRequests.$inferSelect;
export type NewTxRequest = typeof txRequests.$inferInsert;
export type TxRequestHash = typeof txRequestHashes.$inferSelect;
export type NewTxRequestHash = typeof txRequestHashes.$inferInsert;
export type WalletNonce = typeof walletNonces.$inferSelect;
export type NewWalletNonce = typeof walletNonces.$inferInsert;
export type IndexerCursor = typeof indexerCursor.$inferSelect;
export type IndexerBlock = typeof indexerBlocks.$inferSelect;
export type IndexerUndoLogEntry = typeof indexerUndoLog.$inferSelect;
export type NewIndexerUndoLogEntry = typeof indexerUndoLog.$inferInsert;
export type IndexerLock = typeof indexerLock.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
