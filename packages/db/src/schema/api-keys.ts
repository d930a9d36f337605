import { sql } from "drizzle-orm";
import { datetime, foreignKey, index, int, mysqlTable, unique, varchar } from "drizzle-orm/mysql-core";
import { asciiString, bytes, createdAt, jsonDocument, namedCheck, rowId } from "./columns.ts";
import { users } from "./users.ts";

/**
 * API keys for server-to-server clients, created by admins. A client signs each request with HMAC-SHA256 under the
 * key's secret, so the server must be able to recompute it: the secret is kept encrypted at rest like custodial wallet
 * keys (AES-256-GCM under a key derived from `MASTER_KEY`, `key_version` naming which master key, the public `key_id`
 * as additional authenticated data), never in the clear and never returned after creation. A signed request acts as
 * the key's owner, limited to the key's scopes. Revoking sets `revoked_at`; the row stays for the record.
 */
export const apiKeys = mysqlTable(
  "api_keys",
  {
    id: rowId("id").primaryKey().autoincrement(),
    /** The public identifier clients send (`ck_` + 20 base32 characters). */
    keyId: asciiString("key_id", { length: 32 }).notNull(),
    /** Whom a signed request acts as. */
    userId: rowId("user_id").notNull(),
    /** The admin who created it (null once that account is gone). */
    createdByUserId: rowId("created_by_user_id"),
    /** What the key is for, shown in listings. */
    name: varchar("name", { length: 100 }).notNull(),
    /** The procedure groups the key may call (`read`, `certificates:write`, …), a JSON array. */
    scopes: jsonDocument<string[]>("scopes").notNull(),
    /** AES-256-GCM ciphertext of the secret. */
    encryptedSecret: bytes("encrypted_secret", { length: 128 }).notNull(),
    /** The 12-byte GCM nonce, random per encryption. */
    iv: bytes("iv", { length: 12 }).notNull(),
    /** The 16-byte GCM authentication tag. */
    authTag: bytes("auth_tag", { length: 16 }).notNull(),
    /** Which master key encrypted this row (1 = the first). */
    keyVersion: int("key_version", { unsigned: true }).notNull(),
    createdAt: createdAt().notNull(),
    /** The last accepted signed request, written at most about once a minute. */
    lastUsedAt: datetime("last_used_at", { fsp: 3 }),
    revokedAt: datetime("revoked_at", { fsp: 3 }),
  },
  (t) => [
    unique("api_keys_key_id_uq").on(t.keyId),
    index("api_keys_user_id_idx").on(t.userId),
    index("api_keys_created_by_user_id_idx").on(t.createdByUserId),
    foreignKey({ name: "api_keys_user_id_fk", columns: [t.userId], foreignColumns: [users.id] }).onDelete("cascade"),
    foreignKey({
      name: "api_keys_created_by_user_id_fk",
      columns: [t.createdByUserId],
      foreignColumns: [users.id],
    }).onDelete("set null"),
    namedCheck("api_keys", "key_id", sql.raw("`key_id` REGEXP '^ck_[a-z2-7]{20}$'")),
  ],
);
