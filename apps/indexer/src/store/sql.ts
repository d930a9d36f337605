import type { PoolConnection, RowDataPacket } from "mysql2/promise";
import type { UndoRecord } from "./row-tracker.ts";
import type { TableSpec } from "./rows.ts";

/*
 * Bulk SQL for the store. Multi-row statements in chunks: MariaDB takes ~70,000 rows/s as 1,000-row INSERTs
 * (TOOLCHAIN.md), while row-at-a-time statements would cap the backfill at a few thousand events/s.
 */
const CHUNK = 1_000;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
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

/** Rows whose key is in `keys`, read in chunks (`FOR UPDATE`: the batch owns them until it commits). */
export async function selectByKeys<Row>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  column: string,
  keys: readonly unknown[],
  extraCondition = "",
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const part of chunks([...new Set(keys)])) {
    rows.push(...(await selectRows(connection, table, `\`${column}\` IN (?)${extraCondition} FOR UPDATE`, [part])));
  }
  return rows;
}

/** Inserts or overwrites rows by their unique key (the store's columns only; `id` and timestamps stay). */
export async function upsertRows<Row extends Record<string, unknown>>(
  connection: PoolConnection,
  table: TableSpec<Row>,
  rows: readonly Row[],
): Promise<void> {
  const columns = table.columns.map((c) => `\`${c}\``).join(", ");
  const updates = table.columns
    .filter((c) => c !== table.key)
    .map((c) => `\`${c}\` = VALUES(\`${c}\`)`)
    .join(", ");
  for (const part of chunks(rows)) {
    const values = part.map((row) => table.columns.map((column) => row[column] ?? null));
    await connection.query(`INSERT INTO \`${table.name}\` (${columns}) VALUES ? ON DUPLICATE KEY UPDATE ${updates}`, [
      values,
    ]);
  }
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

export async function insertUndoRecords(
  connection: PoolConnection,
  chainId: number,
  records: readonly UndoRecord[],
): Promise<void> {
  for (const part of chunks(records)) {
    const values = part.map((r) => [
      chainId,
      r.blockNumber,
      r.tableName,
      r.operation,
      JSON.stringify(r.rowKey),
      r.previousRow === null ? null : JSON.stringify(r.previousRow),
    ]);
    await connection.query(
      "INSERT INTO indexer_undo_log (chain_id, block_number, table_name, operation, row_key, previous_row) VALUES ?",
      [values],
    );
  }
}
