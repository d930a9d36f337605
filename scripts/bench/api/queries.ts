/**
 * The SQL the API really sends: the app runs in this process over a pool that records every statement sent through it
 * (by drizzle or straight to mysql2), each procedure is called through `app.request()`, and the statements it ran are
 * recorded with their parameters. Those are then `EXPLAIN`ed on the seeded data, so the plans shown are the
 * procedures' own, never hand-copied SQL.
 */
import type { Config } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import { schema } from "@certchain/db";
import type { ContentStore } from "@certchain/storage";
import { drizzle } from "drizzle-orm/mysql2";
import type { Pool, RowDataPacket } from "mysql2/promise";
import { createApp } from "../../../apps/api/src/app.ts";
import { createApiDeps } from "../../../apps/api/src/deps.ts";
import { MAX_PAGE_SIZE } from "../../../apps/api/src/pagination.ts";

/** A statement as sent: its SQL and parameters, and whether as text (`query`) or as a prepared statement (`execute`). */
export type RecordedQuery = { sql: string; params: unknown[]; method: "query" | "execute" };

export type ProcedureCall = {
  procedure: string;
  input?: unknown;
  /** Mutations are POSTed, queries sent as GET. */
  mutation?: boolean;
  headers?: Record<string, string>;
};

/** A call whose statements are EXPLAINed; `pages: 2` follows the first page's cursor once. */
export type PlannedCall = ProcedureCall & { pages: number };

export type RecordedCall = {
  status: number;
  /** `result.data` of the tRPC response. */
  // biome-ignore lint/suspicious/noExplicitAny: procedure outputs of every shape
  data: any;
  queries: RecordedQuery[];
};

export type RecordingApi = {
  /** Calls a procedure and returns its answer and the statements it ran, in order. */
  call(call: ProcedureCall): Promise<RecordedCall>;
  close(): Promise<void>;
};

export async function startRecordingApi(options: {
  pool: Pool;
  config: Config;
  deployment: Deployment;
  storage: ContentStore;
}): Promise<RecordingApi> {
  let recorded: RecordedQuery[] = [];
  const pool = recordingStatements(options.pool, (query) => recorded.push(query));
  const db = drizzle(pool, { schema, mode: "default" });
  const closers: Array<() => Promise<void>> = [];
  const deps = await createApiDeps(options.config, db, {
    deployment: options.deployment,
    storage: options.storage,
    onClose: (close) => closers.push(close),
  });
  const app = createApp(deps);
  return {
    async call({ procedure, input, mutation = false, headers = {} }) {
      recorded = [];
      const query = !mutation && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : "";
      const response = await app.request(`http://localhost/trpc/${procedure}${query}`, {
        method: mutation ? "POST" : "GET",
        headers: mutation ? { "content-type": "application/json", ...headers } : headers,
        ...(mutation ? { body: JSON.stringify(input ?? null) } : {}),
      });
      const body = (await response.json()) as { result?: { data?: unknown }; error?: unknown };
      if (response.status !== 200) {
        throw new Error(`${procedure} answered ${response.status}: ${JSON.stringify(body.error ?? body)}`);
      }
      return { status: response.status, data: body.result?.data, queries: recorded };
    },
    async close() {
      await Promise.all(closers.map((close) => close()));
    },
  };
}

/**
 * `pool`, recording each statement sent with `query` or `execute`, on the pool or on a connection taken from it (a
 * transaction's).
 */
function recordingStatements<T extends object>(client: T, record: (query: RecordedQuery) => void): T {
  return new Proxy(client, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== "function") return value;
      if (key === "query" || key === "execute") {
        return (first: string | { sql: string }, params?: unknown[], ...rest: unknown[]) => {
          record({ sql: typeof first === "string" ? first : first.sql, params: params ?? [], method: key });
          return value.call(target, first, params, ...rest);
        };
      }
      if (key === "getConnection") {
        return async (...args: unknown[]) => recordingStatements(await value.apply(target, args), record);
      }
      return value.bind(target);
    },
  });
}

type ExplainRow = {
  id: number;
  select_type: string;
  table: string | null;
  type: string | null;
  possible_keys: string | null;
  key: string | null;
  rows: number | null;
  Extra: string | null;
};

export type QueryPlan = {
  /** What ran it: the procedure and its input. */
  label: string;
  query: RecordedQuery;
  rows: ExplainRow[];
  /** Tables read with no index at all (`type` ALL). */
  fullScans: string[];
  /** Tables whose matching rows are all read and sorted before the LIMIT applies (filesort over many rows). */
  sortedScans: string[];
};

/** A filesort over more rows than the largest page reads far more than it returns. */
const SORTED_ROWS_FLAGGED = MAX_PAGE_SIZE;

/** EXPLAINs each SELECT of `queries` with its recorded parameters. */
export async function explainQueries(pool: Pool, label: string, queries: RecordedQuery[]): Promise<QueryPlan[]> {
  const plans: QueryPlan[] = [];
  for (const query of queries) {
    if (!/^\s*select\b/i.test(query.sql)) continue;
    const [rows] = await pool.query<RowDataPacket[]>(`EXPLAIN ${query.sql}`, query.params);
    const explained = rows as unknown as ExplainRow[];
    const fullScans = explained.filter((row) => row.type === "ALL").map((row) => row.table ?? "?");
    const sortedScans = explained
      .filter((row) => row.Extra?.includes("Using filesort") && (row.rows ?? 0) > SORTED_ROWS_FLAGGED)
      .map((row) => row.table ?? "?");
    plans.push({ label, query, rows: explained, fullScans, sortedScans });
  }
  return plans;
}

/** Calls each procedure (following cursors for `pages` pages) and EXPLAINs every SELECT it sent. */
export async function explainProcedures(
  recording: RecordingApi,
  pool: Pool,
  calls: PlannedCall[],
): Promise<QueryPlan[]> {
  const plans: QueryPlan[] = [];
  for (const { pages, ...call } of calls) {
    let input = call.input as Record<string, unknown> | undefined;
    for (let page = 1; page <= pages && input; page++) {
      const answer = await recording.call({ ...call, input });
      const label = `${call.procedure} ${JSON.stringify(call.input)}${page > 1 ? ` (page ${page})` : ""}`;
      plans.push(...(await explainQueries(pool, label, answer.queries)));
      const nextCursor = answer.data?.nextCursor as string | null | undefined;
      input = nextCursor ? { ...input, cursor: nextCursor } : undefined;
    }
  }
  return plans;
}

/** The statement with its select list shortened (the WHERE, ORDER BY and LIMIT are what decide the plan). */
function shortSql(sql: string): string {
  return sql.replace(/^select .+? from /i, "select … from ");
}

export function formatPlans(plans: QueryPlan[]): string {
  const lines: string[] = [];
  for (const plan of plans) {
    lines.push(plan.label);
    lines.push(`  ${shortSql(plan.query.sql)}`);
    lines.push(`  params: ${JSON.stringify(plan.query.params)}`);
    const cells = plan.rows.map((row) => [
      row.table ?? "",
      row.type ?? "",
      row.key ?? "-",
      String(row.rows ?? ""),
      row.Extra ?? "",
    ]);
    const header = ["table", "type", "key", "rows", "Extra"];
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
    const line = (values: string[]) => `  ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
    lines.push(line(header));
    for (const cell of cells) lines.push(line(cell));
    for (const table of plan.fullScans) lines.push(`  !! NO INDEX: ${table} is read in full (type ALL)`);
    for (const table of plan.sortedScans) {
      lines.push(`  !! SORTS: every matching row of ${table} is read and sorted before the LIMIT (filesort)`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
