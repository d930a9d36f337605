import type { TxRequest } from "@certchain/db";
import { parseTxRequestPayload } from "@certchain/queue";
import { type Address, type Hash, type Hex, keccak256, parseEther } from "viem";
import { buildCall, callEffect, noopCall } from "./calls.ts";
import type { RelayerDeps } from "./deps.ts";
import { FatalError, RetryableError } from "./errors.ts";
import type { PendingTransaction } from "./requests.ts";

/** A development wallet short of ETH gets this much from the operator (or 10× the cost, if more). */
const DEV_FUNDING_WEI = parseEther("1");
const DEV_FUNDING_WINDOW_MS = 60_000;
const NOOP_GAS = 21_000n;

/** Re-aligns a wallet's nonces with the chain: once per process, or again when `force`d (a nonce went missing). */
export type SyncWallet = (wallet: Address, force?: boolean) => Promise<void>;

export const transactionKind = (kind: TxRequest["kind"]): PendingTransaction["kind"] => {
  if (kind === "grant_issuer" || kind === "revoke_issuer") return "role";
  if (kind === "noop") return "other";
  return kind;
};

/**
 * The first steps of a `queued` request: build the call, simulate it (a revert fails the request before any nonce is
 * touched), make sure the wallet can pay, reserve the nonce, sign, persist the bytes with the `pending` transactions
 * row, and broadcast. Each step is safe to run again after a crash: the nonce and bytes are read back, not redone.
 */
export async function sendQueued(deps: RelayerDeps, request: TxRequest, syncWallet: SyncWallet): Promise<void> {
  const from = request.fromAddress;
  if (!from) return failOrCancel(deps, request, new FatalError("no_sender", "the request names no sending wallet"));
  try {
    const parsed = parseTxRequestPayload(request.kind, request.payload);
    const account = await deps.signers.accountFor(from);
    await syncWallet(from);
    const call = buildCall(parsed, from, deps.deployment);
    const fees = await deps.chain.fees();
    let gas: bigint;
    try {
      gas = request.kind === "noop" ? NOOP_GAS : await deps.chain.simulate(from, call);
    } catch (error) {
      if (error instanceof FatalError && error.code === "insufficient_funds" && canFundInDevelopment(deps, from)) {
        return requestDevFunding(deps, request, from, call.value + NOOP_GAS * 10n * fees.maxFeePerGas);
      }
      throw error;
    }
    const cost = gas * fees.maxFeePerGas + call.value;
    const balance = await deps.chain.client.getBalance({ address: from });
    if (balance < cost) {
      if (canFundInDevelopment(deps, from)) return requestDevFunding(deps, request, from, cost);
      throw new FatalError("insufficient_funds", `wallet ${from} holds ${balance} wei but needs ${cost}`);
    }
    const nonce = await deps.nonces.reserve(request.id, from);
    const rawTx = await account.signTransaction({
      chainId: deps.chain.client.chain.id,
      type: "eip1559",
      nonce,
      to: call.to,
      data: call.data,
      value: call.value,
      gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const persisted = await deps.store.persistVariant(
      request,
      { purpose: "original", nonce, rawTx, txHash: keccak256(rawTx), to: call.to, ...fees },
      { kind: transactionKind(request.kind), value: call.value, ...callEffect(parsed, deps.deployment) },
    );
    await broadcastVariant(deps, request, persisted.rawTx, persisted.txHash, syncWallet);
  } catch (error) {
    if (error instanceof FatalError) return failOrCancel(deps, request, error);
    throw error;
  }
}

/**
 * Broadcasts persisted bytes. "Already known" counts as sent; "nonce too low" is sent too when one of the request's
 * variants is on chain, and otherwise means a foreign transaction took the nonce, so the request gets a new one.
 */
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
  if (result === "insufficient_funds") {
    throw new RetryableError(`wallet ${request.fromAddress} cannot pay for ${txHash} yet`);
  }
  if (result === "nonce_too_high") {
    if (request.fromAddress) await syncWallet(request.fromAddress, true);
    throw new RetryableError(`nonce ${request.nonce} of ${request.fromAddress} is ahead of the chain; filled gaps`);
  }
  for (const variant of await deps.store.variants(request.id)) {
    if (await deps.chain.receipt(variant.txHash)) {
      await deps.store.markSent(request, txHash);
      return;
    }
  }
  deps.logger.warn({ requestId: request.id, nonce: request.nonce }, "Lost nonce to a foreign transaction; re-queued");
  await deps.store.requeueForNewNonce(request);
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
  const fees = await deps.chain.fees();
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

function canFundInDevelopment(deps: RelayerDeps, wallet: Address): boolean {
  return deps.config.nodeEnv !== "production" && wallet !== deps.signers.operatorAddress;
}

/**
 * Development only: the operator sends the wallet ETH. The idempotency key allows one funding per wallet per minute,
 * so a burst of requests from an empty wallet shares one transfer instead of each paying for its own.
 */
async function requestDevFunding(deps: RelayerDeps, request: TxRequest, wallet: Address, cost: bigint) {
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
