/**
 * The database schema: the source of truth for every table. `drizzle-kit generate` turns changes here into SQL
 * migrations under `packages/db/migrations/`, which are reviewed and committed.
 */
export * from "./api-keys.ts";
export * from "./certificates.ts";
export type { Address, Hash, Hex } from "./columns.ts";
export * from "./indexer.ts";
export * from "./listings.ts";
export * from "./sessions.ts";
export * from "./transactions.ts";
export * from "./tx-requests.ts";
export * from "./users.ts";
export * from "./wallets.ts";
