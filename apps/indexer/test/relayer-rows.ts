import type { DbHandle } from "@certchain/db";
import type { TestChain } from "./chain.ts";

type Address = `0x${string}`;
type Hash = `0x${string}`;
let requests = 0;

/** What the relayer's `transactions` row says the broadcast does (its kind, what it moves). */
export type RelayedTransaction = {
  kind?: "issue" | "revoke" | "eth_transfer" | "token_transfer" | "buy" | "other";
  amount?: bigint | null;
  currency?: Address | null;
  tokenId?: number | null;
};

/** What the relayer writes when it broadcasts: a `tx_requests` row and a `pending` `transactions` row for the hash. */
export async function insertPendingRelayerRow(
  database: DbHandle,
  txHash: `0x${string}`,
  from: Address,
  to: Address,
  requestId: string,
  what: RelayedTransaction = {},
): Promise<void> {
  const kind = what.kind ?? "issue";
  await database.pool.query(
    "INSERT INTO tx_requests (id, idempotency_key, kind, payload, from_address, tx_hash, status) VALUES (?, ?, ?, '{}', ?, ?, 'sent')",
    [requestId, `key-${requestId}`, kind === "other" ? "noop" : kind, from.toLowerCase(), txHash],
  );
  await database.pool.query(
    "INSERT INTO transactions (tx_hash, from_address, to_address, amount, token_id, currency_address, status, kind, tx_request_id) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
    [
      txHash,
      from.toLowerCase(),
      to.toLowerCase(),
      what.amount?.toString() ?? null,
      what.tokenId ?? null,
      what.currency?.toLowerCase() ?? null,
      kind,
      requestId,
    ],
  );
}

/** A user with a custodial wallet at `address` (the key columns hold placeholders: the indexer never reads them). */
export async function registerPlatformWallet(database: DbHandle, address: Address): Promise<void> {
  const name = address.slice(2, 14);
  const [result] = await database.pool.query(
    "INSERT INTO users (username, email, password_hash, wallet_address) VALUES (?, ?, 'not-a-hash', ?)",
    [name, `${name}@example.test`, address.toLowerCase()],
  );
  await database.pool.query(
    "INSERT INTO wallets (user_id, address, encrypted_private_key, iv, auth_tag, key_version) VALUES (?, ?, ?, ?, ?, 1)",
    [
      (result as { insertId: number }).insertId,
      address.toLowerCase(),
      Buffer.alloc(48),
      Buffer.alloc(12),
      Buffer.alloc(16),
    ],
  );
}

/**
 * A transaction as the relayer sends one: sent (automine off, so not yet mined), its `pending` row written in each
 * database, then mined in a block of its own.
 */
export async function relayTransaction(
  chain: TestChain,
  databases: readonly DbHandle[],
  send: () => Promise<Hash>,
  row: { from: Address; to: Address } & RelayedTransaction,
): Promise<{ hash: Hash; requestId: string }> {
  await chain.client.setAutomine(false);
  try {
    const hash = await send();
    const requestId = `01935c4e-0000-7000-8000-${(++requests).toString(16).padStart(12, "0")}`;
    for (const database of databases) await insertPendingRelayerRow(database, hash, row.from, row.to, requestId, row);
    await chain.mine(1);
    return { hash, requestId };
  } finally {
    await chain.client.setAutomine(true);
  }
}
