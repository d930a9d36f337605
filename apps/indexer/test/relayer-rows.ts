import type { DbHandle } from "@certchain/db";

/** What the relayer writes when it broadcasts: a `tx_requests` row and a `pending` `transactions` row for the hash. */
export async function insertPendingRelayerRow(
  database: DbHandle,
  txHash: `0x${string}`,
  from: `0x${string}`,
  to: `0x${string}`,
  requestId: string,
): Promise<void> {
  await database.pool.query(
    "INSERT INTO tx_requests (id, idempotency_key, kind, payload, from_address, tx_hash, status) VALUES (?, ?, 'issue', '{}', ?, ?, 'sent')",
    [requestId, `key-${requestId}`, from.toLowerCase(), txHash],
  );
  await database.pool.query(
    "INSERT INTO transactions (tx_hash, from_address, to_address, status, kind, tx_request_id) VALUES (?, ?, ?, 'pending', 'issue', ?)",
    [txHash, from.toLowerCase(), to.toLowerCase(), requestId],
  );
}
