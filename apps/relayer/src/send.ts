import type { TxRequest } from "@certchain/db";
import { type Address, type Hash, type Hex, keccak256, parseEther, parseTransaction } from "viem";
import { noopCall } from "./calls.ts";
import type { Fees } from "./chain.ts";
import type { RelayerDeps } from "./deps.ts";
import { type FatalError, RetryableError, ShortOfFundsError, UnderpricedError } from "./errors.ts";
import type { PendingTransaction } from "./requests.ts";

/** A development wallet short of ETH gets this much from the operator (or 10× the cost, if more). */
const DEV_FUNDING_WEI = parseEther("1");
const DEV_FUNDING_WINDOW_MS = 60_000;
export const NOOP_GAS = 21_000n;

/** Re-aligns a wallet's nonces with the chain: once per process, or again when `force`d (a nonce went missing). */
export type SyncWallet = (wallet: Address, force?: boolean) => Promise<void>;

export const transactionKind = (kind: TxRequest["kind"]): PendingTransaction["kind"] => {
  if (kind === "grant_issuer" || kind === "revoke_issuer") return "role";
  if (kind === "noop") return "other";
  return kind;
};

/** Broadcasts persisted bytes. "Already known" counts as sent, and so, until the follower decides, does "nonce too low". */
export async function broadcastVariant(
  deps: RelayerDeps,
  request: TxRequest,
  rawTx: Hex,
  txHash: Hash,
  syncWallet: SyncWallet,
): Promise<void> {
  const result = await deps.chain.broadcast(rawTx);
  if (result === "accepted") {
    deps.metrics.sends.inc();
    await deps.store.markSent(request, txHash);
    return;
  }
  if (result === "insufficient_funds") throw new ShortOfFundsError(await shortOfFunds(deps, request, rawTx, txHash));
  if (result === "underpriced") {
    throw new UnderpricedError(`${txHash} (nonce ${request.nonce}) pays less than the base fee now; it needs new fees`);
  }
  if (result === "nonce_too_high") {
    if (request.fromAddress) await syncWallet(request.fromAddress, true);
    throw new RetryableError(`nonce ${request.nonce} of ${request.fromAddress} is ahead of the chain; filled gaps`);
  }
  // "Nonce too low": the nonce is used on chain, by one of this request's variants (mined, though a node may answer
  // before its receipt can be read) or by a foreign transaction. Giving the nonce up on a wrong guess would send the
  // request twice, so it counts as sent, and the follower's look at long-waiting requests decides, after a second
  // look some time later (see `follower.ts`).
  deps.logger.info(
    { requestId: request.id, nonce: request.nonce, txHash },
    "Found the nonce used; left to the follower",
  );
  await deps.store.markSent(request, txHash);
}

/** The most a transaction can take from its sender: gas × max fee + value. */
export function mostCostOf(tx: ReturnType<typeof parseTransaction>): bigint {
  return (tx.gas ?? 0n) * (tx.maxFeePerGas ?? tx.gasPrice ?? 0n) + (tx.value ?? 0n);
}

/** What the node refused: the wallet's balance against the transaction's most it can cost (gas × max fee + value). */
async function shortOfFunds(deps: RelayerDeps, request: TxRequest, rawTx: Hex, txHash: Hash): Promise<string> {
  const wallet = request.fromAddress;
  const tx = parseTransaction(rawTx);
  const cost = mostCostOf(tx);
  const balance = wallet
    ? await deps.chain.client.getBalance({ address: wallet }).then(String, () => "an unknown amount of")
    : "an unknown amount of";
  return `wallet ${wallet} cannot pay for ${txHash} (nonce ${tx.nonce}) yet: it holds ${balance} wei, the transaction may cost ${cost} wei`;
}

/**
 * A foreign transaction took the request's nonce: the request goes back to `queued` for a fresh one, with a job (the
 * one it had is finished), and the wallet is re-aligned with the chain. A request that was only being cancelled (its
 * every broadcast a cancel of a decided failure) ends instead: sending it again would run the call it failed.
 */
export async function giveUpNonce(deps: RelayerDeps, request: TxRequest, syncWallet: SyncWallet): Promise<void> {
  // Variants dropped earlier (a nonce lost before) say nothing about what the request is doing now.
  const live = (await deps.store.variants(request.id)).filter((variant) => variant.status !== "dropped");
  if (live.length > 0 && live.every((variant) => variant.purpose === "cancel")) {
    deps.logger.warn({ requestId: request.id, nonce: request.nonce }, "Lost a cancel's nonce to a foreign transaction");
    await deps.store.endCancelWithLostNonce(request);
  } else {
    deps.logger.warn({ requestId: request.id, nonce: request.nonce }, "Lost nonce to a foreign transaction; re-queued");
    await deps.store.requeueForNewNonce(request);
    await deps.enqueue([{ requestId: request.id, kind: request.kind }]);
  }
  if (request.fromAddress) await syncWallet(request.fromAddress, true);
}

/**
 * Ends a request that cannot succeed. Without a nonce it simply fails. With one (reserved early, in submission order,
 * by a later request of the same wallet) the nonce must still be used, or every later transaction of the wallet would
 * wait forever: a zero-value self-transfer cancels it, and the request ends `failed` once that is final.
 */
export async function failOrCancel(deps: RelayerDeps, request: TxRequest, error: FatalError): Promise<void> {
  deps.logger.info({ requestId: request.id, kind: request.kind, code: error.code }, "Failed tx request");
  if (await deps.store.failUnsent(request, error.code, error.message)) {
    deps.metrics.failures.inc({ reason: error.code });
    return;
  }
  const current = await deps.store.load(request.id);
  if (current?.status !== "queued" || current.nonce === null || !current.fromAddress) return;
  await deps.store.recordFailureReason(current, error.code, error.message);
  const account = await deps.signers.accountFor(current.fromAddress);
  const fees = await cappedFees(deps);
  const call = noopCall(current.fromAddress);
  const rawTx = await account.signTransaction({
    chainId: deps.chain.client.chain.id,
    type: "eip1559",
    nonce: current.nonce,
    ...call,
    gas: NOOP_GAS,
    ...fees,
  });
  const persisted = await deps.store.persistVariant(
    { ...current, errorCode: error.code },
    { purpose: "cancel", nonce: current.nonce, rawTx, txHash: keccak256(rawTx), to: call.to, ...fees },
    { kind: "other", value: 0n, amount: 0n, tokenId: null, currencyAddress: null },
  );
  const result = await deps.chain.broadcast(persisted.rawTx);
  if (result === "accepted") {
    deps.metrics.sends.inc();
    await deps.store.markSent(current, persisted.txHash);
  }
}

/** The market's fees, held to RELAYER_MAX_FEE_PER_GAS_WEI: no transaction is signed to pay more per gas. */
export async function cappedFees(deps: RelayerDeps): Promise<Fees> {
  const market = await deps.chain.fees();
  const cap = deps.config.relayerMaxFeePerGasWei;
  if (market.maxFeePerGas <= cap) return market;
  return { maxFeePerGas: cap, maxPriorityFeePerGas: minBigint(market.maxPriorityFeePerGas, cap) };
}

const minBigint = (a: bigint, b: bigint) => (a < b ? a : b);

export function canFundInDevelopment(deps: RelayerDeps, wallet: Address): boolean {
  return deps.config.nodeEnv !== "production" && wallet !== deps.signers.operatorAddress;
}

/**
 * Development only: the operator sends the wallet ETH. The idempotency key allows one funding per wallet per minute,
 * so a burst of requests from an empty wallet shares one transfer instead of each paying for its own.
 */
export async function requestDevFunding(deps: RelayerDeps, request: TxRequest, wallet: Address, cost: bigint) {
  const amount = cost * 10n > DEV_FUNDING_WEI ? cost * 10n : DEV_FUNDING_WEI;
  const { created } = await deps.producer.submit({
    userId: null,
    idempotencyKey: `dev-funding:${wallet}:${Math.floor(Date.now() / DEV_FUNDING_WINDOW_MS)}`,
    from: deps.signers.operatorAddress,
    kind: "eth_transfer",
    payload: { to: wallet, amount: amount.toString() },
  });
  if (created) deps.logger.info({ requestId: request.id, wallet, amount: amount.toString() }, "Requested dev funding");
}
