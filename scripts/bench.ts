/**
 * `npm run bench [name…]`: runs the benchmark scripts in `scripts/bench/` (or the named ones) one after another and
 * prints one results table. Each benchmark starts what it needs (its own anvil, its own database) and cleans up.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, repoRoot, runMain } from "@certchain/common";
import { privateKeyToAccount } from "viem/accounts";
import type { Benchmark, BenchmarkResult } from "./bench/types.ts";

const BENCH_DIR = join(repoRoot, "scripts", "bench");

function printTable(rows: Array<BenchmarkResult & { benchmark: string }>): void {
  const header = ["benchmark", "metric", "value", "unit", "note"];
  const cells = rows.map((r) => [r.benchmark, r.metric, r.value, r.unit, r.note ?? ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => String(c[i]).length)));
  const line = (values: Array<string | number>) =>
    values
      .map((v, i) => (typeof v === "number" ? String(v).padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of cells) console.log(line(row));
}

/**
 * A fixed piece of CPU work timed before the benchmarks: signing transactions as the relayer does (secp256k1 and
 * keccak in JavaScript). The virtual machines these figures come from vary in speed by 2 – 3× from one day to the next;
 * runs are only comparable after dividing by this.
 */
async function machineReference(): Promise<BenchmarkResult> {
  const account = privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY);
  const transaction = {
    chainId: 31337,
    to: account.address,
    value: 1n,
    gas: 21_000n,
    maxFeePerGas: 2_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  } as const;
  const count = 2_000;
  for (let nonce = 0; nonce < 200; nonce++) await account.signTransaction({ ...transaction, nonce });
  const started = performance.now();
  for (let nonce = 0; nonce < count; nonce++) await account.signTransaction({ ...transaction, nonce });
  const perSignature = (performance.now() - started) / count;
  return {
    metric: "CPU reference: sign one transaction",
    value: Math.round(perSignature * 1000) / 1000,
    unit: "ms",
    note: "same work every run; a higher value means a slower machine",
  };
}

runMain("bench", async () => {
  const wanted = process.argv.slice(2);
  const files = readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(".bench.ts"))
    .filter((file) => wanted.length === 0 || wanted.includes(file.replace(/\.bench\.ts$/, "")))
    .sort();
  const rows: Array<BenchmarkResult & { benchmark: string }> = [
    { benchmark: "machine", ...(await machineReference()) },
  ];
  for (const file of files) {
    const { benchmark } = (await import(join(BENCH_DIR, file))) as { benchmark: Benchmark };
    process.stderr.write(`bench: running ${benchmark.name}…\n`);
    const started = performance.now();
    for (const result of await benchmark.run()) rows.push({ benchmark: benchmark.name, ...result });
    process.stderr.write(`bench: ${benchmark.name} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  printTable(rows);
});
