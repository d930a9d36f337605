/**
 * The relayer end to end, as in production: two relayer processes on one anvil, one database and one Redis prefix.
 * Phase 1 sends certificate issues from the operator wallet alone; phase 2 sends ETH transfers spread over custodial
 * wallets. Latency runs from submit (row + job written) to the `confirmed` status event; throughput is requests over
 * the span from the first submit to the last confirmation. Duplicates and nonce gaps are counted on chain and must be 0.
 *
 * The chain mines a block every second (`anvil --block-time 1`) with a 300M gas limit, like a fast L2, rather than
 * anvil's default automine (one block per transaction, mined inside `eth_sendRawTransaction`), which no real chain
 * does and which turns every transaction into a block to read. FINALITY_DEPTH is 1, so confirmed = mined.
 */
import { certificateRegistryAbi } from "@certchain/contracts";
import { txRequests } from "@certchain/db";
import { type TxStatusEvent, txStatusChannel } from "@certchain/queue";
import { type Address, parseEther } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { OPERATOR, type Stack, startStack } from "../../apps/relayer/test/fixtures.ts";
import { type RelayerProcess, relayerProcesses } from "../../apps/relayer/test/processes.ts";
import type { Benchmark, BenchmarkResult } from "./types.ts";

const ISSUES_FROM_ONE_WALLET = 1000;
const TRANSFERS = 2000;
const TRANSFER_WALLETS = 20;
const RELAYER_PROCESSES = 2;
/** Submissions in flight at once, like many API requests arriving together. */
const SUBMIT_CONCURRENCY = 50;
const BLOCK_TIME_SECONDS = 1;
/** Room for a second's worth of transactions at the targets (about 1,000 × 50–150k gas). */
const BLOCK_GAS_LIMIT = 300_000_000;

type Phase = { label: string; requests: Array<Parameters<Stack["submit"]>[0]> };

export const benchmark: Benchmark = {
  name: "relayer",
  async run() {
    const stack = await startStack({
      blockTime: BLOCK_TIME_SECONDS,
      args: ["--gas-limit", String(BLOCK_GAS_LIMIT)],
    });
    const processes: RelayerProcess[] = [];
    const factory = relayerProcesses(stack, {
      LOG_LEVEL: "error",
      RELAYER_CONCURRENCY: "100",
      RELAYER_POLL_MS: "200",
      // The production default; the kill tests' 1 s would expire locks whenever the loaded machine stalls a process.
      RELAYER_JOB_LOCK_MS: "30000",
    });
    try {
      for (let i = 0; i < RELAYER_PROCESSES; i += 1) processes.push(await factory.spawn());
      await Promise.all(processes.map((relayer) => relayer.waitReady(120_000)));

      const wallets: Array<{ userId: number; address: Address }> = [];
      for (let i = 0; i < TRANSFER_WALLETS; i += 1) {
        const wallet = await stack.createCustodialUser("bench");
        await stack.rpc("anvil_setBalance", [wallet.address, `0x${parseEther("1000").toString(16)}`]);
        wallets.push(wallet);
      }
      const expiresAt = String(Math.floor(Date.now() / 1000) + 86_400 * 365);
      const recipients = Array.from(
        { length: TRANSFERS },
        (_, i) => privateKeyToAddress(`0x${(0xbe000000 + i).toString(16).padStart(64, "0")}`).toLowerCase() as Address,
      );
      const phases: Phase[] = [
        {
          label: `${ISSUES_FROM_ONE_WALLET} issues, 1 wallet`,
          requests: Array.from({ length: ISSUES_FROM_ONE_WALLET }, (_, i) => ({
            idempotencyKey: `issue-${i}`,
            kind: "issue" as const,
            payload: { to: OPERATOR, cid: `bafy-bench-${i}`, expiresAt },
          })),
        },
        {
          label: `${TRANSFERS} ETH transfers, ${TRANSFER_WALLETS} wallets`,
          requests: recipients.map((to, i) => {
            const wallet = wallets[i % TRANSFER_WALLETS];
            if (!wallet) throw new Error("no wallets");
            return {
              userId: wallet.userId,
              from: wallet.address,
              idempotencyKey: `transfer-${i}`,
              kind: "eth_transfer" as const,
              payload: { to, amount: String(i + 1) },
            };
          }),
        },
      ];

      const results: BenchmarkResult[] = [
        {
          metric: "chain",
          value: BLOCK_TIME_SECONDS,
          unit: "s/block",
          note: `anvil --block-time ${BLOCK_TIME_SECONDS} --gas-limit ${BLOCK_GAS_LIMIT} (interval mining, not automine)`,
        },
      ];
      for (const phase of phases) results.push(...(await measure(stack, phase)));

      const firstBlock = BigInt(stack.deployment.contracts.CertificateRegistry.blockNumber);
      const issued = await stack.client.getContractEvents({
        address: stack.deployment.contracts.CertificateRegistry.address,
        abi: certificateRegistryAbi,
        eventName: "CertificateIssued",
        fromBlock: firstBlock,
      });
      const cids = issued.map((event) => (event.args as { cid?: string }).cid ?? "");
      let duplicates = cids.length - new Set(cids).size;
      for (const [i, to] of recipients.entries()) {
        const balance = await stack.client.getBalance({ address: to });
        if (balance > BigInt(i + 1)) duplicates += 1;
      }
      results.push({ metric: "duplicates", value: duplicates, unit: "tx", note: "must be 0" });
      results.push({
        metric: "nonce gaps",
        value: await countNonceGaps(stack, [OPERATOR, ...wallets.map((wallet) => wallet.address)]),
        unit: "wallets",
        note: "must be 0",
      });
      return results;
    } finally {
      for (const relayer of processes) await relayer.stop();
      factory.dispose();
      await stack.close();
    }
  },
};

async function measure(stack: Stack, phase: Phase): Promise<BenchmarkResult[]> {
  const subscriber = stack.redis.duplicate();
  const submittedAt = new Map<string, number>();
  const sentAt = new Map<string, number>();
  const confirmedAt = new Map<string, number>();
  let finished: () => void = () => {};
  const allConfirmed = new Promise<void>((resolve) => {
    finished = resolve;
  });
  await subscriber.subscribe(txStatusChannel(stack.redisPrefix));
  subscriber.on("message", (_channel, message) => {
    const event = JSON.parse(message) as TxStatusEvent;
    if (event.status === "sent" && !sentAt.has(event.requestId)) sentAt.set(event.requestId, Date.now());
    if (event.status !== "confirmed" && event.status !== "failed") return;
    // Keyed by id, not matched against submissions: a confirmation can arrive before `submit` resolves with the id.
    confirmedAt.set(event.requestId, Date.now());
    if (confirmedAt.size >= phase.requests.length) finished();
  });

  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SUBMIT_CONCURRENCY }, async () => {
      for (let request = phase.requests[next++]; request; request = phase.requests[next++]) {
        const at = Date.now();
        submittedAt.set(await stack.submit(request), at);
      }
    }),
  );
  const submitted = Date.now();
  let timeout: NodeJS.Timeout | undefined;
  await Promise.race([allConfirmed, new Promise((resolve) => (timeout = setTimeout(resolve, 600_000)))]);
  clearTimeout(timeout);
  const ended = Math.max(...confirmedAt.values());
  subscriber.disconnect();

  const rows = await stack.database.db.select({ status: txRequests.status }).from(txRequests);
  const failed = rows.filter((row) => row.status === "failed").length;
  const latencies = sorted([...submittedAt].map(([id, at]) => (confirmedAt.get(id) ?? Number.NaN) - at));
  const toSent = sorted([...submittedAt].map(([id, at]) => (sentAt.get(id) ?? Number.NaN) - at));
  const sentToConfirmed = sorted([...sentAt].map(([id, at]) => (confirmedAt.get(id) ?? Number.NaN) - at));
  const seconds = (ended - started) / 1000;
  return [
    { metric: `${phase.label}: confirmed`, value: confirmedAt.size, unit: "requests", note: `${failed} failed` },
    {
      metric: `${phase.label}: throughput`,
      value: round(confirmedAt.size / seconds),
      unit: "tx/s",
      note: "submit → confirmed",
    },
    {
      metric: `${phase.label}: submit rate`,
      value: round(phase.requests.length / ((submitted - started) / 1000)),
      unit: "req/s",
    },
    { metric: `${phase.label}: p50 latency`, value: quantile(latencies, 0.5), unit: "ms" },
    { metric: `${phase.label}: p99 latency`, value: quantile(latencies, 0.99), unit: "ms" },
    {
      metric: `${phase.label}: p50 submit → sent`,
      value: quantile(toSent, 0.5),
      unit: "ms",
      note: `p99 ${quantile(toSent, 0.99)} ms; last sent ${Math.max(started, ...sentAt.values()) - started} ms after the first submit`,
    },
    {
      metric: `${phase.label}: p50 sent → confirmed`,
      value: quantile(sentToConfirmed, 0.5),
      unit: "ms",
      note: `p99 ${quantile(sentToConfirmed, 0.99)} ms`,
    },
  ];
}

/** Wallets whose chain nonce has transactions waiting behind a missing one, or whose request nonces skip a value. */
async function countNonceGaps(stack: Stack, wallets: Address[]): Promise<number> {
  const rows = await stack.database.db
    .select({ from: txRequests.fromAddress, nonce: txRequests.nonce })
    .from(txRequests);
  let gaps = 0;
  for (const wallet of wallets) {
    const nonces = rows
      .filter((row) => row.from === wallet && row.nonce !== null)
      .map((row) => row.nonce as number)
      .sort((a, b) => a - b);
    const latest = await stack.client.getTransactionCount({ address: wallet, blockTag: "latest" });
    const pending = await stack.client.getTransactionCount({ address: wallet, blockTag: "pending" });
    const contiguous = nonces.every((nonce, i) => i === 0 || nonce === (nonces[i - 1] ?? 0) + 1);
    if (pending !== latest || !contiguous || (nonces.length > 0 && nonces.at(-1) !== latest - 1)) gaps += 1;
  }
  return gaps;
}

/** Ascending, without the requests that never got there (NaN would scramble the order). */
const sorted = (values: number[]) => values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
const quantile = (values: number[], q: number) =>
  values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
const round = (value: number) => Math.round(value * 10) / 10;
