import { datetime, foreignKey, index, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { asciiChar, createdAt, hexDigestCheck, rowId } from "./columns.ts";
import { users } from "./users.ts";

/**
 * Login sessions in the style of Lucia's guide (security.md §1, design A): the client holds a random token of at least
 * 160 bits; the database holds only its SHA-256, so a leaked table cannot be replayed as cookies. Validation looks the
 * hash up by primary key, deletes the row when `expires_at` has passed, and slides `expires_at` forward when it is
 * within half its lifetime. Logout deletes the row; "log out everywhere" deletes by `user_id`.
 */
export const sessions = mysqlTable(
  "sessions",
  {
    /** Lowercase hex SHA-256 of the session token (64 digits, no `0x`). */
    id: asciiChar("id", { length: 64 }).primaryKey(),
    userId: rowId("user_id").notNull(),
    /** UTC; DATETIME rather than TIMESTAMP so no 2038 limit and no session-time-zone conversion. */
    expiresAt: datetime("expires_at", { fsp: 3 }).notNull(),
    createdAt: createdAt().notNull(),
    /** Last successful validation (for an inactivity timeout); written at most about once a minute, not per request. */
    lastVerifiedAt: datetime("last_verified_at", { fsp: 3 }),
    /** Shown in a "your sessions" list; truncated by the API to fit. */
    userAgent: varchar("user_agent", { length: 255 }),
    /** Client address at login, IPv4 or IPv6 text (45 characters fits IPv4-mapped IPv6). */
    ip: varchar("ip", { length: 45 }),
  },
  (t) => [
    foreignKey({ name: "sessions_user_id_fk", columns: [t.userId], foreignColumns: [users.id] }).onDelete("cascade"),
    index("sessions_user_id_idx").on(t.userId),
    // Periodic purge of expired rows.
    index("sessions_expires_at_idx").on(t.expiresAt),
    hexDigestCheck("sessions", t.id, 64),
  ],
);
