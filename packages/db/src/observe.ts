import type { Config, Logger } from "@certchain/common";
import { Counter, Gauge, type Registry } from "prom-client";
import { type CreateDbOptions, createDb, type DbHandle } from "./client.ts";

/**
 * Opens a daemon's pool as configured: `DB_POOL_SIZE` (or the daemon's own default) connections, and every statement
 * slower than `DB_SLOW_QUERY_MS` logged as a warning with its SQL (never its values) and time; `statementTimeoutMs`
 * for a daemon that must answer even while the server hangs (see `createDb`).
 */
export function openDatabase(
  config: Pick<Config, "databaseUrl" | "dbPoolSize" | "dbSlowQueryMs">,
  logger: Pick<Logger, "warn">,
  defaultPoolSize: number,
  options: Pick<CreateDbOptions, "statementTimeoutMs" | "traceCallers"> = {},
): DbHandle {
  return createDb(config.databaseUrl, {
    poolSize: config.dbPoolSize ?? defaultPoolSize,
    slowQueryMs: config.dbSlowQueryMs,
    onSlowQuery: (query) => logger.warn(query, "Ran a slow query"),
    ...options,
  });
}

/** Pool use on a daemon's `/metrics`: its size, connections in use, and how often callers waited for one. */
export function registerPoolMetrics(registry: Registry, database: Pick<DbHandle, "poolStats">): void {
  const registers = [registry];
  new Gauge({
    name: "certchain_db_pool_connections",
    help: "MySQL pool connections: the pool's size (max) and those handed out (in_use)",
    labelNames: ["state"],
    registers,
    collect() {
      const { max, inUse } = database.poolStats();
      this.set({ state: "max" }, max);
      this.set({ state: "in_use" }, inUse);
    },
  });
  let reported = 0;
  new Counter({
    name: "certchain_db_pool_waits_total",
    help: "Times a query waited because every pool connection was in use",
    registers,
    collect() {
      const { waits } = database.poolStats();
      this.inc(waits - reported);
      reported = waits;
    },
  });
}
