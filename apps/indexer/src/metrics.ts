import { Counter, Gauge, Registry } from "prom-client";

/** The indexer's Prometheus metrics, on a registry of its own so several indexers (tests) never share counters. */
export type IndexerMetrics = {
  registry: Registry;
  headBlock: Gauge;
  indexedBlock: Gauge;
  finalizedBlock: Gauge;
  lagBlocks: Gauge;
  /** Events applied; `rate(certchain_indexer_events_total[1m])` is events/s. */
  events: Counter;
  /** Events/s over the last batch, for dashboards without PromQL. */
  eventsPerSecond: Gauge;
  reorgs: Counter;
  lastReorgDepth: Gauge;
  maxReorgDepth: Gauge;
  rpcErrors: Counter<"kind">;
  isLeader: Gauge;
};

export function createMetrics(): IndexerMetrics {
  const registry = new Registry();
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  return {
    registry,
    headBlock: gauge("certchain_indexer_head_block", "Latest block number reported by the node"),
    indexedBlock: gauge("certchain_indexer_indexed_block", "Last block whose effects are committed"),
    finalizedBlock: gauge("certchain_indexer_finalized_block", "Last block treated as final"),
    lagBlocks: gauge("certchain_indexer_lag_blocks", "Head minus indexed block"),
    events: new Counter({
      name: "certchain_indexer_events_total",
      help: "Chain events applied",
      registers: [registry],
    }),
    eventsPerSecond: gauge("certchain_indexer_events_per_second", "Events per second over the last batch"),
    reorgs: new Counter({ name: "certchain_indexer_reorgs_total", help: "Reorgs handled", registers: [registry] }),
    lastReorgDepth: gauge("certchain_indexer_last_reorg_depth", "Depth in blocks of the last reorg"),
    maxReorgDepth: gauge("certchain_indexer_max_reorg_depth", "Deepest reorg seen since start"),
    rpcErrors: new Counter({
      name: "certchain_indexer_rpc_errors_total",
      help: "Failed RPC calls by error class",
      labelNames: ["kind"],
      registers: [registry],
    }),
    isLeader: gauge("certchain_indexer_is_leader", "1 while this instance holds the writer lease"),
  };
}
