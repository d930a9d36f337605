import { CACHE_NAMESPACES, type CacheInvalidation } from "@certchain/queue";
import type { BatchRows } from "./batch-plan.ts";

/*
 * What the API's read caches must drop after a commit (see `@certchain/queue`'s cache-invalidation): announced only
 * once the transaction has committed, so a reader that reloads on the announcement reads the new rows.
 */

/**
 * A batch's changes: the certificates whose row changed (by token id), every listings page if any listing changed,
 * and the balances of both parties of every transactions row written.
 */
export function batchInvalidation(state: BatchRows): CacheInvalidation {
  const certificates = state.certificates.changedRows().map((row) => String(row.token_id));
  const accounts = new Set<string>();
  for (const row of state.transactions.changedRows()) {
    accounts.add(row.from_address.toLowerCase());
    accounts.add(row.to_address.toLowerCase());
  }
  return {
    keys: { certificates, balances: [...accounts] },
    flush: state.listings.changedRows().length > 0 ? ["listings"] : [],
  };
}

/**
 * A reorg's undo: the certificates restored or deleted (by the undo log's row keys), every listings page, and every
 * balance when a transaction moved (a reorg is rare; naming the wallets would take reading the rows it restores).
 */
export function revertInvalidation(entries: ReadonlyArray<Record<string, unknown>>) {
  const certificates: string[] = [];
  const flush = new Set<CacheInvalidation["flush"][number]>();
  for (const entry of entries) {
    if (entry.table_name === "certificates") {
      const key = JSON.parse(String(entry.row_key)) as { token_id?: unknown };
      certificates.push(String(key.token_id));
    } else if (entry.table_name === "listings") flush.add("listings");
    else if (entry.table_name === "transactions") flush.add("balances");
  }
  return { keys: { certificates }, flush: [...flush] } satisfies CacheInvalidation;
}

/** Everything: after a rebuild or a reset, any cached answer may be wrong. */
export const everything = (): CacheInvalidation => ({ keys: {}, flush: [...CACHE_NAMESPACES] });
