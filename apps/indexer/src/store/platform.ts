import type { Pool, RowDataPacket } from "mysql2/promise";

type Address = `0x${string}`;
type Hash = `0x${string}`;

/** Addresses per `IN (…)` lookup. */
const LOOKUP_CHUNK = 1_000;

/**
 * What the indexer reads of the platform's own rows to know which chain transactions concern it: the custodial
 * wallets (`wallets`) and the relayer's broadcasts still `pending`. Plain reads outside the batch's transaction.
 *
 * They are read after the head they serve was seen, so they are never too old for it: a wallet row is committed
 * before anyone can know its address, and the relayer commits a `pending` row before it broadcasts the hash.
 */
export type PlatformReads = {
  /** True once any wallet exists (then every block's transactions are scanned for ETH transfers). */
  hasWallets(): Promise<boolean>;
  /** The platform wallets among `addresses`. */
  findWallets(addresses: Iterable<Address>): Promise<Set<Address>>;
  /** Hashes of the `pending` rows: broadcasts the indexer has not yet seen mined. */
  pendingHashes(): Promise<Hash[]>;
};

export function createPlatformReads(pool: Pool): PlatformReads {
  // Wallets are never deleted (`wallets_user_id_fk` restricts), so once true this stays true.
  let walletsExist = false;
  return {
    async hasWallets() {
      if (walletsExist) return true;
      const [rows] = await pool.query<RowDataPacket[]>("SELECT 1 FROM wallets LIMIT 1");
      walletsExist = rows.length > 0;
      return walletsExist;
    },
    async findWallets(addresses) {
      const unique = [...new Set(addresses)];
      const found = new Set<Address>();
      for (let i = 0; i < unique.length; i += LOOKUP_CHUNK) {
        const [rows] = await pool.query<RowDataPacket[]>("SELECT address FROM wallets WHERE address IN (?)", [
          unique.slice(i, i + LOOKUP_CHUNK),
        ]);
        for (const row of rows) found.add(row.address as Address);
      }
      return found;
    },
    async pendingHashes() {
      // `block_number IS NULL` rides transactions_block_number_idx: a pending row has no block.
      const [rows] = await pool.query<RowDataPacket[]>(
        "SELECT tx_hash FROM transactions WHERE block_number IS NULL AND status = 'pending'",
      );
      return rows.map((row) => row.tx_hash as Hash);
    },
  };
}
