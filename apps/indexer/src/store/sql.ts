import type { PoolConnection, RowDataPacket } from "mysql2/promise";
import type { UndoRecord } from "./row-tracker.ts";
import type { TableSpec } from "./rows.ts";

/*
 * Bulk SQL for the store. Multi-row statements in chunks: MariaDB takes ~70,000 rows/s as 1,000-row INSERTs
 * (TOOLCHAIN.md), while row-at-a-time statements would cap the backfill at a few thousand events/s. Upserts go in
 * larger statements still (a fifth less server time per row at 5,000 rows than at 1,000), bounded in bytes so a
 * statement stays far below `max_allowed_packet` (16 MiB by default) whatever the rows hold.
 */
const CHUNK = 1_000;
const UPSERT_CHUNK_ROWS = 5_000;
const UPSERT_CHUNK_BYTES = 4 * 1024 * 1024;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows of values in chunks of at most UPSERT_CHUNK_ROWS rows and about UPSERT_CHUNK_BYTES bytes. */
function valueChunks(rows: readonly unknown[][]): unknown[][][] {
  const out: unknown[][][] = [];
  let current: unknown[][] = [];
  let bytes = 0;
  for (const row of rows) {
    let size = 16;
    for (const value of row) size += typeof value === "string" ? value.length * 2 + 4 : 24;
    if (current.length > 0 && (current.length >= UPSERT_CHUNK_ROWS || bytes + size > UPSERT_CHUNK_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Reads rows as the store's JSON-safe images: DATETIMEs as strings (no `Date`), DECIMALs as strings. */
export async function selectRows<Row>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  where: string,
  values: readonly unknown[],
): Promise<Row[]> {
  const [rows] = await connection.query<RowDataPacket[]>({
    sql: `SELECT ${table.columns.map((c) => `\`${c}\``).join(", ")} FROM \`${table.name}\` WHERE ${where}`,
    values: values as unknown[] as Array<string | number | null>,
    dateStrings: true,
  });
  return rows as Row[];
}

/** A statement and its placeholder values, for `pipeline`. */
export type Statement = [sql: string, values: unknown[]];

/**
 * Runs statements on one connection back to back, without waiting for each answer before preparing the next: the
 * server executes one while the next is built and formatted (mysql2 queues them in order on the connection). The
 * iterable is consumed lazily, so statement N+1's rows are turned into values only after statement N went out.
 * Rejects with the first failure, after every statement sent has settled (the caller then rolls back).
 */
export async function pipeline(connection: PoolConnection, statements: Iterable<Statement>): Promise<void> {
  const sent: Promise<unknown>[] = [];
  let unsent: { error: unknown } | undefined;
  try {
    for (const [sql, values] of statements) sent.push(connection.query(sql, values));
  } catch (error) {
    // Building a statement failed: what was sent still settles before the caller rolls back.
    unsent = { error };
  }
  const failed = (await Promise.allSettled(sent)).find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  if (unsent) throw unsent.error;
}

/**
 * Rows whose key is in `keys`, read in chunks. `lock` reads them `FOR UPDATE` (the latest committed version, held
 * until the batch commits): needed for rows someone else writes too (the relayer's `transactions`); the rows only
 * the lease holder writes can be read plainly.
 */
export async function selectByKeys<Row>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  column: string,
  keys: readonly unknown[],
  options: { extraCondition?: string; lock?: boolean } = {},
): Promise<Row[]> {
  const rows: Row[] = [];
  const where = `\`${column}\` IN (?)${options.extraCondition ?? ""}${options.lock ? " FOR UPDATE" : ""}`;
  for (const part of chunks([...new Set(keys)])) rows.push(...(await selectRows(connection, table, where, [part])));
  return rows;
}

/** Statements that insert or overwrite rows by their unique key (the store's columns; `id` and timestamps stay). */
export function* upsertStatements<Row extends Record<string, unknown>>(
  table: TableSpec<Row>,
  rows: readonly Row[],
): Generator<Statement> {
  if (rows.length === 0) return;
  const columns = table.columns.map((c) => `\`${c}\``).join(", ");
  const updates = table.columns
    .filter((c) => c !== table.key)
    .map((c) =>
      table.keepWhenNull?.includes(c)
        ? `\`${c}\` = COALESCE(VALUES(\`${c}\`), \`${c}\`)`
        : `\`${c}\` = VALUES(\`${c}\`)`,
    )
    .join(", ");
  const sql = `INSERT INTO \`${table.name}\` (${columns}) VALUES ? ON DUPLICATE KEY UPDATE ${updates}`;
  const values = rows.map((row) => table.columns.map((column) => row[column] ?? null));
  for (const part of valueChunks(values)) yield [sql, [part]];
}

export async function upsertRows<Row extends Record<string, unknown>>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  rows: readonly Row[],
): Promise<void> {
  await pipeline(connection, upsertStatements(table, rows));
}

export async function deleteByKeys<Row>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  keys: readonly unknown[],
): Promise<void> {
  for (const part of chunks(keys)) {
    await connection.query(`DELETE FROM \`${table.name}\` WHERE \`${table.key}\` IN (?)`, [part]);
  }
}

export function* undoStatements(chainId: number, records: readonly UndoRecord[]): Generator<Statement> {
  for (const part of chunks(records)) {
    const values = part.map((r) => [
      chainId,
      r.blockNumber,
      r.tableName,
      r.operation,
      JSON.stringify(r.rowKey),
      r.previousRow === null ? null : JSON.stringify(r.previousRow),
    ]);
    yield [
      "INSERT INTO indexer_undo_log (chain_id, block_number, table_name, operation, row_key, previous_row) VALUES ?",
      [values],
    ];
  }
}
