/** The API benchmark's load runs as rows of the results table, and `certificates.get` against its targets. */
import type { BenchmarkResult } from "../types.ts";
import type { LoadResult } from "./load.ts";

/** Issue 6's targets for `certificates.get` against the bare baseline. */
const MIN_THROUGHPUT_RATIO = 0.7;
const MAX_P99_RATIO = 1.5;

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/**
 * Several runs of one target as one result: the mean of their requests/s and latencies, CPU per response over all
 * their responses, and the totals of responses and errors.
 */
export function meanOfRuns(label: string, runs: LoadResult[]): LoadResult {
  const [first] = runs;
  if (!first) throw new Error(`${label}: no runs to average`);
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  const statusCodes: Record<string, number> = {};
  for (const run of runs) {
    for (const [status, count] of Object.entries(run.statusCodes))
      statusCodes[status] = (statusCodes[status] ?? 0) + count;
  }
  const cpu = runs.every((run) => run.serverCpuMsPerRequest !== undefined)
    ? round(runs.reduce((sum, run) => sum + (run.serverCpuMsPerRequest ?? 0) * run.requests, 0) / requests, 3)
    : undefined;
  const cores = runs.every((run) => run.serverCores !== undefined)
    ? round(mean(runs.map((run) => run.serverCores ?? 0)), 2)
    : undefined;
  return {
    label,
    connections: first.connections,
    seconds: first.seconds,
    requestsPerSecond: Math.round(mean(runs.map((run) => run.requestsPerSecond))),
    p50Ms: round(mean(runs.map((run) => run.p50Ms)), 1),
    p99Ms: round(mean(runs.map((run) => run.p99Ms)), 1),
    requests,
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    statusCodes,
    serverCores: cores,
    serverCpuMsPerRequest: cpu,
    failureSamples: runs.flatMap((run) => run.failureSamples),
    perRunRequestsPerSecond: runs.map((run) => run.requestsPerSecond),
  };
}

export function loadRows(load: LoadResult): BenchmarkResult[] {
  const cores =
    load.serverCores === undefined
      ? ""
      : `, server CPU ${load.serverCores} cores = ${load.serverCpuMsPerRequest} ms per response`;
  const runs = load.perRunRequestsPerSecond;
  const duration = runs
    ? `mean of ${runs.length} runs of ${load.seconds} s (${runs.join(", ")} req/s)`
    : `${load.seconds} s`;
  const statuses = Object.entries(load.statusCodes)
    .map(([status, count]) => `${count}× ${status}`)
    .join(", ");
  return [
    {
      metric: `${load.label} req/s`,
      value: load.requestsPerSecond,
      unit: "req/s",
      note: `${load.connections} connections, ${duration}${cores}`,
    },
    { metric: `${load.label} p50`, value: load.p50Ms, unit: "ms" },
    { metric: `${load.label} p99`, value: load.p99Ms, unit: "ms" },
    {
      metric: `${load.label} errors`,
      value: load.errors,
      unit: "responses",
      note: `must be 0 (non-2xx ${load.non2xx}; ${statuses || "no responses"})`,
    },
  ];
}

/** `load` against the mean of the baseline runs, with the targets' verdicts. */
export function ratioRows(baselines: LoadResult[], load: LoadResult): BenchmarkResult[] {
  const throughput = load.requestsPerSecond / mean(baselines.map((b) => b.requestsPerSecond));
  const p99 = load.p99Ms / mean(baselines.map((b) => b.p99Ms));
  const cpu = baselines.every((b) => b.serverCpuMsPerRequest !== undefined)
    ? (load.serverCpuMsPerRequest ?? Number.NaN) / mean(baselines.map((b) => b.serverCpuMsPerRequest ?? 0))
    : undefined;
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const rows: BenchmarkResult[] = [
    {
      metric: `${load.label} / baseline req/s`,
      value: round(throughput * 100, 1),
      unit: "%",
      note: `target ≥ ${MIN_THROUGHPUT_RATIO * 100} %: ${verdict(throughput >= MIN_THROUGHPUT_RATIO)}`,
    },
    {
      metric: `${load.label} / baseline p99`,
      value: round(p99, 2),
      unit: "×",
      note: `target ≤ ${MAX_P99_RATIO}×: ${verdict(p99 <= MAX_P99_RATIO)}`,
    },
  ];
  if (cpu !== undefined) {
    rows.push({
      metric: `${load.label} / baseline CPU per request`,
      value: round(cpu, 2),
      unit: "×",
      note: "server CPU time per response; bounds req/s once the server has a core to itself",
    });
  }
  return rows;
}
