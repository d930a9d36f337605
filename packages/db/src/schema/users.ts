import { index, mysqlEnum, mysqlTable, unique, varchar } from "drizzle-orm/mysql-core";
import { address, addressCheck, createdAt, rowId, updatedAt } from "./columns.ts";

/** Roles checked by the API's procedure builders; `issuer` mirrors ISSUER_ROLE on CertificateRegistry. */
export const userRoles = ["user", "issuer", "admin"] as const;
export type UserRole = (typeof userRoles)[number];

/**
 * Platform accounts. The first seven columns are the seed's `users` table, column for column (types, lengths,
 * nullability, defaults, UNIQUE); the rest serve authentication and roles.
 *
 * `username` and `email` are unique under the database's case-insensitive collation (utf8mb4_unicode_ci), so
 * `Alice` and `alice` are the same account name.
 */
export const users = mysqlTable(
  "users",
  {
    id: rowId("id").primaryKey().autoincrement(),
    username: varchar("username", { length: 50 }).notNull(),
    /** An encoded argon2id hash (`$argon2id$v=19$m=…`); never returned by the API. */
    passwordHash: varchar("password_hash", { length: 255 }).notNull(),
    email: varchar("email", { length: 100 }).notNull(),
    /** The user's custodial wallet (its key is in `wallets`), set at registration. */
    walletAddress: address("wallet_address"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),

    role: mysqlEnum("role", userRoles).notNull().default("user"),
    /** An external wallet linked with Sign-In with Ethereum; at most one account per address. */
    externalAddress: address("external_address"),
  },
  (t) => [
    unique("users_username_uq").on(t.username),
    unique("users_email_uq").on(t.email),
    unique("users_external_address_uq").on(t.externalAddress),
    // Resolve "which user owns this address" (transfers to a user, a user's transactions). Not UNIQUE, to keep the
    // seed's column exactly as declared; `wallets.address` is unique already.
    index("users_wallet_address_idx").on(t.walletAddress),
    addressCheck("users", t.walletAddress),
    addressCheck("users", t.externalAddress),
  ],
);
