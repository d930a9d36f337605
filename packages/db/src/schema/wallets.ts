import { foreignKey, int, mysqlTable, unique } from "drizzle-orm/mysql-core";
import { address, addressCheck, bytes, createdAt, rowId, updatedAt } from "./columns.ts";
import { users } from "./users.ts";

/**
 * Custodial wallets: one per user, created at registration. The private key is encrypted at rest with AES-256-GCM
 * under a key-encryption key derived from `MASTER_KEY`; `key_version` names which master key, so keys can be rotated
 * by re-encrypting rows one by one. Encrypt with the address as additional authenticated data, so a ciphertext copied
 * onto another row fails to decrypt instead of signing for the wrong wallet.
 *
 * The platform operator's key is not here: it comes from `OPERATOR_PRIVATE_KEY`.
 */
export const wallets = mysqlTable(
  "wallets",
  {
    id: rowId("id").primaryKey().autoincrement(),
    /** The owner. RESTRICT on delete: a wallet may hold funds, so its key must never vanish with an account row. */
    userId: rowId("user_id").notNull(),
    address: address("address").notNull(),
    /** AES-256-GCM ciphertext of the 32-byte private key (room for other key formats). */
    encryptedPrivateKey: bytes("encrypted_private_key", { length: 64 }).notNull(),
    /** The 12-byte GCM nonce, random per encryption. */
    iv: bytes("iv", { length: 12 }).notNull(),
    /** The 16-byte GCM authentication tag. */
    authTag: bytes("auth_tag", { length: 16 }).notNull(),
    /** Which master key encrypted this row (1 = the first). */
    keyVersion: int("key_version", { unsigned: true }).notNull(),
    createdAt: createdAt().notNull(),
    /** Changes when the key is re-encrypted under a new master key. */
    updatedAt: updatedAt().notNull(),
  },
  (t) => [
    unique("wallets_address_uq").on(t.address),
    unique("wallets_user_id_uq").on(t.userId),
    foreignKey({ name: "wallets_user_id_fk", columns: [t.userId], foreignColumns: [users.id] }).onDelete("restrict"),
    addressCheck("wallets", t.address),
  ],
);
