import type { Queue } from "bullmq";
import { Counter, Gauge, Registry } from "prom-client";

export type RelayerMetrics = {
  registry: Registry;
  /** Broadcasts the node accepted (originals, bumps, cancels, rebroadcasts). */
  sends: Counter;
  confirmations: Counter;
  failures: Counter<"reason">;
  replacements: Counter;
};

/** The relayer's Prometheus metrics, in a registry of their own (no global state). */
export function createRelayerMetrics(queue: Queue): RelayerMetrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: "relayer_queue_jobs",
    help: "Jobs in the tx-requests queue by state",
    labelNames: ["state"],
    registers,
    async collect() {
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "failed");
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  return {
    registry,
    sends: new Counter({ name: "relayer_sends_total", help: "Transactions broadcast", registers }),
    confirmations: new Counter({
      name: "relayer_confirmations_total",
      help: "Requests confirmed at FINALITY_DEPTH",
      registers,
    }),
    failures: new Counter({
      name: "relayer_failures_total",
      help: "Requests that ended failed, by reason",
      labelNames: ["reason"],
      registers,
    }),
    replacements: new Counter({
      name: "relayer_replacements_total",
      help: "Fee-bumped replacements of stuck transactions",
      registers,
    }),
  };
}
