/**
 * Statements every connection runs before its first use (pool connections, migration connections).
 *
 * - `time_zone = '+00:00'`: TIMESTAMP columns are converted to and from the session's time zone, and both mysql2
 *   (`timezone: "Z"`) and drizzle read and write times as UTC, so the session must be UTC too, whatever the server's
 *   `SYSTEM` zone is. `CURRENT_TIMESTAMP` / `NOW()` then also give UTC for DATETIME columns.
 * - `sql_mode`: strict, whatever the server's configuration says, so an out-of-range or truncated value is an error,
 *   never a silently altered row. (All these modes exist on MariaDB 10.x and MySQL 8.)
 */
export const SESSION_SETUP_SQL =
  "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'";
