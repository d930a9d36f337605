import { type DbTransaction, type TxRequestStatus, txRequests } from "@certchain/db";
import { and, asc, inArray, type SQL, sql } from "drizzle-orm";

/**
 * For the relayer's MySQL transactions. Under InnoDB's default REPEATABLE READ, `SELECT … FOR UPDATE` over an index
 * range also locks the gaps between rows, which blocks the API's inserts of new requests for as long as a batch signs.
 * The relayer never relies on a range staying empty (a wallet's `wallet_nonces` row serializes nonce hand-outs, and
 * every status change is guarded by the status it expects), so READ COMMITTED, which locks only the rows read, is
 * enough.
 */
export const ROW_LOCKS_ONLY = { isolationLevel: "read committed" } as const;

/** `CASE id WHEN … THEN … END`: one UPDATE gives each `tx_requests` row its own value. */
export function caseById(values: ReadonlyArray<readonly [string, unknown]>): SQL {
  return sql`CASE ${txRequests.id} ${sql.join(
    values.map(([id, value]) => sql`WHEN ${id} THEN ${value}`),
    sql` `,
  )} END`;
}

/** Rows per multi-row statement, keeping each well under `max_allowed_packet`. */
const CHUNK = 500;

export function chunks<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) result.push(items.slice(i, i + CHUNK));
  return result;
}

/**
 * Locks the `tx_requests` rows among `ids` by primary key, in id order, and returns those in one of `statuses`.
 * Locking reads go by primary key only: one over an index range would also lock, for a moment, rows it passes over,
 * and deadlock with other processes' batches.
 */
export function lockInStatus(tx: DbTransaction, ids: readonly string[], statuses: readonly TxRequestStatus[]) {
  return tx
    .select({
      id: txRequests.id,
      status: txRequests.status,
      txHash: txRequests.txHash,
      blockHash: txRequests.blockHash,
      errorCode: txRequests.errorCode,
    })
    .from(txRequests)
    .where(and(inArray(txRequests.id, [...ids]), inArray(txRequests.status, [...statuses])))
    .orderBy(asc(txRequests.id))
    .for("update");
}
