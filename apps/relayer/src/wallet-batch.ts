import { type TxRequest, txRequests } from "@certchain/db";
import { type ParsedTxRequest, parseTxRequestPayload } from "@certchain/queue";
import { and, asc, eq, inArray, or } from "drizzle-orm";
import { type Address, type Hash, keccak256, type PrivateKeyAccount, parseTransaction } from "viem";
import { ROW_LOCKS_ONLY } from "./bulk-sql.ts";
import { buildCall, type ContractCall, callEffect } from "./calls.ts";
import type { Fees } from "./chain.ts";
import { classifyDependency } from "./dependencies.ts";
import type { RelayerDeps } from "./deps.ts";
import { FatalError } from "./errors.ts";
import type { OriginalVariant } from "./request-batches.ts";
import {
  broadcastVariant,
  canFundInDevelopment,
  cappedFees,
  failOrCancel,
  mostCostOf,
  NOOP_GAS,
  requestDevFunding,
  type SyncWallet,
  transactionKind,
} from "./send.ts";

/**
 * One batch of a wallet's queued requests, in two stages so that the next batch's simulations (the node's work) can
 * run while this one is signed (this process's work):
 * - `prepareBatch`: the oldest queued requests whose dependency is mined are simulated together (one JSON-RPC batch).
 *   A revert fails the request before any nonce is touched; a development wallet short of ETH asks for funding once.
 * - `commitBatch`: one MySQL transaction reserves the nonces, and stores each signature with its `pending`
 *   transactions row, so nonce and bytes are persisted together before any broadcast; then the transactions are
 *   broadcast (one JSON-RPC batch) and marked sent together.
 */

/** Requests per batch: bounds the time the wallet's row lock is held while signing. */
const MAX_BATCH = 200;
/** Signatures (each about a millisecond of CPU) between returns to the event loop. */
const SIGNATURES_BETWEEN_YIELDS = 10;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type ReadyRequest = { request: TxRequest; parsed: ParsedTxRequest; call: ContractCall; gas: bigint };

/** A simulated batch, ready to be signed. */
export type PreparedBatch = {
  wallet: Address;
  /** Every queued request the batch looked at (passed, failed or skipped), so the next one can leave them out. */
  considered: ReadonlySet<string>;
  ready: ReadyRequest[];
  account?: PrivateKeyAccount;
  fees?: Fees;
  /** Per-request errors worth a retry (node unreachable during the simulation, …). */
  errors: Map<string, Error>;
  startedAt: number;
};

export type CommittedBatch = { sent: Set<string>; errors: Map<string, Error> };

type Simulated =
  | ({ outcome: "ready" } & ReadyRequest)
  | { request: TxRequest; outcome: "fund"; cost: bigint }
  | { request: TxRequest; outcome: "fatal"; error: FatalError }
  | { request: TxRequest; outcome: "retry"; error: Error };

export async function prepareBatch(
  deps: RelayerDeps,
  syncWallet: SyncWallet,
  wallet: Address,
  exclude: ReadonlySet<string>,
  /** The batch being committed meanwhile (signed and sent while this one is simulated): its spending counts too. */
  committing?: PreparedBatch,
): Promise<PreparedBatch> {
  const startedAt = performance.now();
  const queued = (
    await deps.db
      .select()
      .from(txRequests)
      .where(and(eq(txRequests.fromAddress, wallet), eq(txRequests.status, "queued")))
      .orderBy(asc(txRequests.id))
      .limit(MAX_BATCH + exclude.size)
  )
    .filter((request) => !exclude.has(request.id))
    .slice(0, MAX_BATCH);
  const batch: PreparedBatch = {
    wallet,
    considered: new Set(queued.map((request) => request.id)),
    ready: [],
    errors: new Map(),
    startedAt,
  };
  const candidates = await withoutPendingDependencies(deps, queued);
  if (candidates.length === 0) return batch;

  try {
    batch.account = await deps.signers.accountFor(wallet);
  } catch (error) {
    if (!(error instanceof FatalError)) throw error;
    for (const request of candidates) await failOrCancel(deps, request, error);
    return batch;
  }
  await syncWallet(wallet);
  const fees = await cappedFees(deps);
  batch.fees = fees;
  // Read while the simulations run: the node answers both at once.
  const funds = fundsOf(deps, wallet, committing);
  funds.catch(() => undefined); // awaited below, unless a simulation throws first
  const simulated = await Promise.all(candidates.map((request) => simulate(deps, request, wallet, fees)));
  const { balance, promised } = await funds;
  // What the wallet can still promise: its balance less the most its unmined transactions and this batch's earlier
  // requests may cost (a node refuses a transaction the balance cannot cover once those are counted).
  let available = balance - promised;

  let funding: { request: TxRequest; cost: bigint } | undefined;
  for (const item of simulated) {
    let outcome = item;
    if (outcome.outcome === "ready") {
      const cost = outcome.gas * fees.maxFeePerGas + outcome.call.value;
      if (available >= cost) {
        available -= cost;
        batch.ready.push(outcome);
        continue;
      }
      outcome = canFundInDevelopment(deps, wallet)
        ? { request: item.request, outcome: "fund", cost }
        : {
            request: item.request,
            outcome: "fatal",
            error: new FatalError(
              "insufficient_funds",
              `wallet ${wallet} holds ${balance} wei, its unmined transactions and earlier requests may spend ${balance - available}, and this one may cost ${cost}`,
            ),
          };
    }
    if (outcome.outcome === "fund" && (!funding || outcome.cost > funding.cost)) funding = outcome;
    if (outcome.outcome === "fatal") await failOrCancel(deps, outcome.request, outcome.error);
    if (outcome.outcome === "retry") batch.errors.set(outcome.request.id, outcome.error);
  }
  // One transfer covers the whole batch (funding is one per wallet per minute anyway).
  if (funding) await requestDevFunding(deps, funding.request, wallet, funding.cost);
  return batch;
}

export async function commitBatch(
  deps: RelayerDeps,
  syncWallet: SyncWallet,
  batch: PreparedBatch,
): Promise<CommittedBatch> {
  const { wallet, account, fees } = batch;
  const committed: CommittedBatch = { sent: new Set(), errors: new Map() };
  if (batch.ready.length === 0 || !account || !fees) return committed;
  const simulatedMs = Math.round(performance.now() - batch.startedAt);
  const startedAt = performance.now();
  const ms = () => Math.round(performance.now() - startedAt);
  let signedMs = 0;

  const { originals, events } = await deps.db.transaction(async (tx) => {
    const nonces = await deps.nonces.reserveMany(
      tx,
      wallet,
      batch.ready.map((item) => item.request.id),
    );
    const inNonceOrder = batch.ready
      .filter((item) => nonces.has(item.request.id))
      .sort((a, b) => (nonces.get(a.request.id) ?? 0) - (nonces.get(b.request.id) ?? 0));
    const originals: OriginalVariant[] = [];
    for (const [i, { request, parsed, call, gas }] of inNonceOrder.entries()) {
      // Signing is synchronous CPU work: let lock renewals and other jobs' I/O through between a few signatures.
      if (i % SIGNATURES_BETWEEN_YIELDS === SIGNATURES_BETWEEN_YIELDS - 1) await yieldToEventLoop();
      const nonce = nonces.get(request.id) as number;
      const rawTx = await account.signTransaction({
        chainId: deps.chain.client.chain.id,
        type: "eip1559",
        nonce,
        to: call.to,
        data: call.data,
        value: call.value,
        gas,
        ...fees,
      });
      const txHash = keccak256(rawTx);
      rememberCost(txHash, gas * fees.maxFeePerGas + call.value);
      originals.push({
        requestId: request.id,
        fromAddress: wallet,
        errorCode: request.errorCode,
        purpose: "original",
        nonce,
        rawTx,
        txHash,
        to: call.to,
        ...fees,
        pending: { kind: transactionKind(request.kind), value: call.value, ...callEffect(parsed, deps.deployment) },
      });
    }
    signedMs = ms();
    return { originals, events: await deps.batches.persistOriginals(tx, originals) };
  }, ROW_LOCKS_ONLY);
  await deps.batches.publish(events);
  const persistedMs = ms();

  const results = await Promise.all(
    originals.map((original) =>
      deps.chain.broadcast(original.rawTx).then(
        (result) => ({ original, result }),
        (error: Error) => ({ original, result: error }),
      ),
    ),
  );
  const accepted = results.filter(({ result }) => result === "accepted").map(({ original }) => original);
  const broadcastMs = ms();
  deps.metrics.sends.inc(accepted.length);
  await deps.batches.markSent(accepted);
  for (const original of accepted) committed.sent.add(original.requestId);
  deps.logger.debug(
    {
      wallet,
      requests: originals.length,
      accepted: accepted.length,
      simulatedMs,
      signedMs,
      persistedMs,
      broadcastMs,
      ms: ms(),
    },
    "Sent wallet batch",
  );

  // The rest one by one, as a rebroadcast would be: nonce trouble, funds, or a node that did not answer.
  for (const { original, result } of results) {
    if (result === "accepted") continue;
    const request = await deps.store.load(original.requestId);
    if (request?.status !== "signed") continue;
    try {
      await broadcastVariant(deps, request, original.rawTx, original.txHash, syncWallet);
    } catch (error) {
      committed.errors.set(original.requestId, error as Error);
    }
  }
  return committed;
}

/**
 * Most (gas × max fee + value) of signed variants, by hash: recorded when this process signs one, parsed from its bytes
 * once otherwise, so the check before each batch does not read and parse every transaction in flight again.
 */
const costByHash = new Map<Hash, bigint>();
const COST_CACHE_SIZE = 10_000;

const rememberCost = (txHash: Hash, cost: bigint) => {
  if (costByHash.size >= COST_CACHE_SIZE) costByHash.clear();
  costByHash.set(txHash, cost);
};

/**
 * The wallet's balance at the latest block, and the most that its transactions not mined by then may still spend
 * (each by its current variant): the signed and sent ones, the mined ones a reorg may have taken out of the chain
 * again, and those of the batch being committed meanwhile; `except` leaves one request out. Balance and nonce are
 * read at one block, so a transaction mined in it is counted in the balance and nowhere else.
 */
export async function fundsOf(
  deps: RelayerDeps,
  wallet: Address,
  committing?: PreparedBatch,
  except?: string,
): Promise<{ balance: bigint; promised: bigint }> {
  const client = deps.chain.client;
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
  const committingCost = new Map(
    (committing?.ready ?? []).map((item) => [
      item.request.id,
      item.gas * (committing?.fees?.maxFeePerGas ?? 0n) + item.call.value,
    ]),
  );
  const [balance, chainNonce, rows] = await Promise.all([
    client.getBalance({ address: wallet, blockNumber }),
    client.getTransactionCount({ address: wallet, blockNumber }),
    deps.db
      .select({ id: txRequests.id, status: txRequests.status, nonce: txRequests.nonce, txHash: txRequests.txHash })
      .from(txRequests)
      .where(
        or(
          and(inArray(txRequests.status, ["signed", "sent", "mined"]), eq(txRequests.fromAddress, wallet)),
          committingCost.size > 0 ? inArray(txRequests.id, [...committingCost.keys()]) : undefined,
        ),
      ),
  ]);
  let promised = 0n;
  const unknown: string[] = [];
  for (const row of rows) {
    if (row.id === except) continue;
    if (row.nonce !== null && row.nonce < chainNonce) continue; // mined by then: in the balance already
    if ((row.status === "signed" || row.status === "sent" || row.status === "mined") && row.txHash) {
      const cost = costByHash.get(row.txHash);
      if (cost === undefined) unknown.push(row.id);
      else promised += cost;
    } else if (row.status === "queued") {
      promised += committingCost.get(row.id) ?? 0n; // not persisted yet
    }
  }
  if (unknown.length > 0) {
    // Signed by another process, or before this one started.
    const signed = await deps.db
      .select({ txHash: txRequests.txHash, rawTx: txRequests.rawTx })
      .from(txRequests)
      .where(inArray(txRequests.id, unknown));
    for (const { txHash, rawTx } of signed) {
      if (!txHash || !rawTx) continue;
      const cost = mostCostOf(parseTransaction(rawTx));
      rememberCost(txHash, cost);
      promised += cost;
    }
  }
  return { balance, promised };
}

/** Fails requests whose dependency failed and leaves out those whose dependency is not mined yet. */
async function withoutPendingDependencies(deps: RelayerDeps, queued: TxRequest[]): Promise<TxRequest[]> {
  const dependencyIds = [...new Set(queued.flatMap((request) => (request.dependsOn ? [request.dependsOn] : [])))];
  if (dependencyIds.length === 0) return queued;
  const dependencies = await deps.db
    .select({ id: txRequests.id, status: txRequests.status, errorCode: txRequests.errorCode })
    .from(txRequests)
    .where(inArray(txRequests.id, dependencyIds));
  const byId = new Map(dependencies.map((dependency) => [dependency.id, dependency]));
  const candidates: TxRequest[] = [];
  for (const request of queued) {
    const dependency = request.dependsOn
      ? classifyDependency(request.dependsOn, byId.get(request.dependsOn))
      : { state: "ready" as const };
    if (dependency.state === "ready") candidates.push(request);
    if (dependency.state === "failed") await failOrCancel(deps, request, dependency.error);
  }
  return candidates;
}

/** Builds the call and simulates it. */
async function simulate(deps: RelayerDeps, request: TxRequest, wallet: Address, fees: Fees): Promise<Simulated> {
  try {
    const parsed = parseTxRequestPayload(request.kind, request.payload);
    const call = buildCall(parsed, wallet, deps.deployment);
    try {
      const gas = request.kind === "noop" ? NOOP_GAS : await deps.chain.simulate(wallet, call);
      return { request, outcome: "ready", parsed, call, gas };
    } catch (error) {
      if (error instanceof FatalError && error.code === "insufficient_funds" && canFundInDevelopment(deps, wallet)) {
        return { request, outcome: "fund", cost: call.value + NOOP_GAS * 10n * fees.maxFeePerGas };
      }
      throw error;
    }
  } catch (error) {
    if (error instanceof FatalError) return { request, outcome: "fatal", error };
    return { request, outcome: "retry", error: error as Error };
  }
}
