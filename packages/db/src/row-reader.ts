import { getTableColumns, getTableName, type InferSelectModel } from "drizzle-orm";
import type { MySqlColumn, MySqlTable } from "drizzle-orm/mysql-core";
import type { Pool, RowDataPacket } from "mysql2/promise";

/** Looks up one row by the reader's column; undefined when there is none. */
export type RowReader<TTable extends MySqlTable> = (
  value: string | number,
) => Promise<InferSelectModel<TTable> | undefined>;

/**
 * TIMESTAMP columns read as `Date`s (drizzle's default mode): mysql2 builds the same UTC `Date` that drizzle's decoder
 * makes from the text, since `createDb` gives every pool `timezone: "Z"` and a UTC session, and a TIMESTAMP cannot
 * hold the years below 100 that mysql2's `Date.UTC` would read as 19xx. DATETIME columns can: they come as text and
 * go through drizzle's decoder, like every other column.
 */
const DATE_COLUMN_TYPES = new Set(["MySqlTimestamp"]);
/** What mysql2 sends as text, as drizzle's `typeCast` asks for it. */
const TEXT_DATE_COLUMN_TYPES = new Set(["MySqlDateTime"]);
/** Other date and time columns (string modes, DATE, TIME, YEAR) are not read here: their values would differ. */
const OTHER_TIME_COLUMN = /Date|Time|Year/;

/**
 * The row of `table` whose `column` (a unique one) equals a value: what `db.select().from(table).where(eq(column,
 * value))` returns, for a fraction of its CPU. For the API's hottest read, `certificates.get`, drizzle's way took a
 * fifth of the API's CPU per response (docs/performance.md). Three things made it dear, and are done otherwise here:
 * - drizzle asks mysql2 to hand every field to a `typeCast` callback, to get dates as text, then parses that text
 *   back into `Date`s. Here mysql2 gives DATETIMEs as text itself and makes TIMESTAMPs' `Date`s.
 * - drizzle maps the row with generic code that checks each field's kind. Here a plain loop decodes each value.
 * - drizzle sends the statement as text for the server to parse each time. Here it is a server-side prepared
 *   statement (mysql2's `execute`), prepared once per connection.
 *
 * The answer stays drizzle's: the statement names the table's columns in drizzle's order, and each non-NULL value
 * other than a TIMESTAMP goes through its column's own decoder (`mapFromDriverValue`), as drizzle's result mapping
 * does. A test compares the two on every column type the schema uses.
 */
export function createRowReader<TTable extends MySqlTable>(
  pool: Pick<Pool, "execute">,
  table: TTable,
  column: MySqlColumn,
): RowReader<TTable> {
  const columns = Object.entries(getTableColumns(table)) as Array<[string, MySqlColumn]>;
  if (!columns.some(([, own]) => own === column)) {
    throw new Error(`createRowReader: ${column.name} is not a column of ${getTableName(table)}`);
  }
  const unsupported = columns.find(
    ([, own]) =>
      !DATE_COLUMN_TYPES.has(own.columnType) &&
      !TEXT_DATE_COLUMN_TYPES.has(own.columnType) &&
      OTHER_TIME_COLUMN.test(own.columnType),
  );
  if (unsupported) {
    throw new Error(`createRowReader: ${getTableName(table)}.${unsupported[1].name} is a ${unsupported[1].columnType}`);
  }
  const decoded = columns.map(([key, own]) => [key, DATE_COLUMN_TYPES.has(own.columnType) ? undefined : own] as const);
  const statement = {
    sql: `SELECT ${columns.map(([, own]) => `\`${own.name}\``).join(", ")} FROM \`${getTableName(table)}\` WHERE \`${column.name}\` = ?`,
    rowsAsArray: true,
    dateStrings: ["DATETIME" as const],
  };
  return async (value) => {
    const [rows] = await pool.execute<RowDataPacket[][]>(statement, [
      column.mapToDriverValue(value) as string | number,
    ]);
    const raw = rows[0] as unknown[] | undefined;
    if (!raw) return undefined;
    const row: Record<string, unknown> = {};
    for (let i = 0; i < decoded.length; i++) {
      const [key, decoder] = decoded[i] as (typeof decoded)[number];
      const cell = raw[i];
      row[key] = cell === null || decoder === undefined ? cell : decoder.mapFromDriverValue(cell);
    }
    return row as InferSelectModel<TTable>;
  };
}
