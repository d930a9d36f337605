export { DECIMAL65_MAX, fitsDecimal65 } from "./amounts.ts";
export {
  type CreateDbOptions,
  createDb,
  type Db,
  type DbExecutor,
  type DbHandle,
  type DbTransaction,
  type PoolStats,
  pingDatabase,
  type SlowQuery,
} from "./client.ts";
export {
  describeMysqlError,
  isConnectionError,
  isDuplicateKeyError,
  isStatementTimeoutError,
  toDatabaseError,
} from "./errors.ts";
export { isTxRequestId, newTxRequestId, TX_REQUEST_ID_PATTERN, type TxRequestId } from "./ids.ts";
export { MIGRATIONS_FOLDER, type MigrationResult, migrateDatabase } from "./migrate.ts";
export { openDatabase, registerPoolMetrics } from "./observe.ts";
export { createRowReader, type RowReader } from "./row-reader.ts";
export * from "./rows.ts";
export * as schema from "./schema/index.ts";
export * from "./schema/index.ts";
export {
  DATABASE_NAME_PATTERN,
  type DatabaseTarget,
  parseDatabaseUrl,
  redactDatabaseUrl,
  requireDatabaseName,
  withDatabase,
} from "./url.ts";
