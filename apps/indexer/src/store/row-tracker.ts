import type { UndoOperation } from "@certchain/db";
import type { TableSpec } from "./rows.ts";

/** An undo record before it is written: what the row was before block `blockNumber` first changed it. */
export type UndoRecord = {
  blockNumber: number;
  tableName: string;
  operation: Exclude<UndoOperation, "delete">;
  rowKey: Record<string, unknown>;
  previousRow: Record<string, unknown> | null;
};

/**
 * The rows of one table that a batch reads and changes, in memory. Records undo entries as it goes: one per row per
 * unfinalized block, at the row's first change in that block, holding the image before that block. Reverting to any
 * block in the batch then restores exactly that block's state (the oldest pre-image above the ancestor wins). Changes
 * in final blocks (at or below `finalized`) can never be reverted and record nothing.
 */
export type RowTracker<Row> = {
  get(key: Row[keyof Row]): Row | undefined;
  /** Replaces the row's state as of `blockNumber`. */
  put(row: Row, blockNumber: number): void;
  /** Every row held: as loaded, or as changed since. */
  rows(): IterableIterator<Row>;
  /** Rows whose final state differs from what the database holds. */
  changedRows(): Row[];
  readonly undo: UndoRecord[];
};

export function createRowTracker<Row extends Record<string, unknown>>(
  table: TableSpec<Row>,
  loaded: readonly Row[],
  finalized: number,
): RowTracker<Row> {
  const stored = new Map<unknown, Row>(loaded.map((row) => [row[table.key], row]));
  const current = new Map<unknown, Row>(stored);
  const lastUndoBlock = new Map<unknown, number>();
  const undo: UndoRecord[] = [];

  return {
    undo,
    get: (key) => current.get(key),
    rows: () => current.values(),
    put(row, blockNumber) {
      const key = row[table.key];
      if (blockNumber > finalized && lastUndoBlock.get(key) !== blockNumber) {
        lastUndoBlock.set(key, blockNumber);
        const previous = current.get(key);
        undo.push({
          blockNumber,
          tableName: table.name,
          operation: previous ? "update" : "insert",
          rowKey: { [table.key]: key },
          previousRow: previous ?? null,
        });
      }
      current.set(key, row);
    },
    changedRows() {
      const changed: Row[] = [];
      for (const [key, row] of current) {
        const before = stored.get(key);
        if (!before || table.columns.some((column) => before[column] !== row[column])) changed.push(row);
      }
      return changed;
    },
  };
}
