import type { TxRequest, TxRequestHash } from "@certchain/db";
import { parseTxRequestPayload } from "@certchain/queue";
import { keccak256, parseTransaction, type TransactionSerializableEIP1559 } from "viem";
import { callEffect } from "./calls.ts";
import type { RelayerDeps } from "./deps.ts";
import { broadcastVariant, type SyncWallet, transactionKind } from "./send.ts";

/** Fee bump per replacement: nodes require ≥ 10 % on both fees; 12.5 % leaves room for rounding. */
const BUMP_PER_MILLE = 1125n;
const MIN_REPLACEMENT_PER_MILLE = 1100n;

/**
 * A broadcast younger than this many poll intervals is only checked for a receipt. Transactions queued behind an
 * earlier nonce of their wallet wait here routinely, and checking each of them for a lost nonce or a forgotten
 * broadcast on every poll would spend most of the node's time on requests that are fine.
 */
const STALE_AFTER_POLLS = 5;

const live = (variant: TxRequestHash) => variant.status !== "dropped";

/**
 * A `sent` request: looks for a receipt of any of its variants (an earlier one may win after a bump). With none, it
 * checks the nonce was not taken by someone else, replaces the transaction if it has waited too long, and rebroadcasts
 * it if the node has forgotten it (dropped from the mempool, or returned by a reorg).
 */
export async function trackSent(deps: RelayerDeps, request: TxRequest, syncWallet: SyncWallet): Promise<void> {
  const variants = (await deps.store.variants(request.id)).filter(live);
  if (await findMined(deps, request, variants)) return;
  const newest = variants[0];
  if (!newest || request.nonce === null || !request.fromAddress) return;
  const waitedMs = Date.now() - (newest.sentAt ?? newest.createdAt).getTime();
  if (waitedMs < STALE_AFTER_POLLS * deps.config.relayerPollMs) return;

  const chainNonce = await deps.chain.client.getTransactionCount({
    address: request.fromAddress,
    blockTag: "latest",
  });
  if (chainNonce > request.nonce) {
    // Mined between the two reads, or a foreign transaction took the nonce.
    if (await findMined(deps, request, variants)) return;
    deps.logger.warn({ requestId: request.id, nonce: request.nonce }, "Lost nonce to a foreign transaction; re-queued");
    await deps.store.requeueForNewNonce(request);
    await syncWallet(request.fromAddress, true);
    return;
  }

  if (waitedMs > deps.config.relayerReplaceAfterMs && (await replace(deps, request, newest, syncWallet))) return;
  if (!(await deps.chain.isKnown(newest.txHash))) {
    deps.logger.info({ requestId: request.id, txHash: newest.txHash }, "Rebroadcast forgotten transaction");
    await broadcastVariant(deps, request, newest.rawTx, newest.txHash, syncWallet);
  }
}

/**
 * A `mined` request: re-reads the receipt every time (a cached one would hide a reorg). Gone → back to `sent`;
 * moved to another block → new block refs; `FINALITY_DEPTH` blocks deep → final. Returns true when final.
 */
export async function trackMined(deps: RelayerDeps, request: TxRequest): Promise<boolean> {
  if (!request.txHash) return false;
  const receipt = await deps.chain.receipt(request.txHash);
  if (!receipt) {
    deps.logger.warn({ requestId: request.id, txHash: request.txHash }, "Reorg removed mined transaction");
    await deps.store.markUnmined(request);
    return false;
  }
  const variants = await deps.store.variants(request.id);
  const minedVariant = variants.find((variant) => variant.txHash === request.txHash);
  if (!minedVariant) return false;
  if (receipt.blockHash !== request.blockHash) await deps.store.markMined(request, minedVariant, receipt);

  // viem caches the block number for its polling interval (4 s by default); finality needs the current head.
  const head = await deps.chain.client.getBlockNumber({ cacheTime: 0 });
  if (head - receipt.blockNumber + 1n < BigInt(deps.config.finalityDepth)) return false;

  if (receipt.status === "reverted") {
    await deps.store.markFinal(request, "failed", { code: "reverted", message: "the transaction reverted on chain" });
    deps.metrics.failures.inc({ reason: "reverted" });
  } else if (minedVariant.purpose === "cancel") {
    await deps.store.markFinal(request, request.errorCode ? "failed" : "cancelled");
    if (request.errorCode) deps.metrics.failures.inc({ reason: request.errorCode });
  } else {
    await deps.store.markFinal(request, "confirmed");
    deps.metrics.confirmations.inc();
  }
  return true;
}

async function findMined(deps: RelayerDeps, request: TxRequest, variants: TxRequestHash[]): Promise<boolean> {
  for (const variant of variants) {
    const receipt = await deps.chain.receipt(variant.txHash);
    if (receipt) {
      await deps.store.markMined(request, variant, receipt);
      return true;
    }
  }
  return false;
}

/**
 * Signs the newest variant again with the same nonce, gas and call and fees raised ≥ 10 % (or to the market, if
 * higher), capped at RELAYER_MAX_FEE_PER_GAS_WEI; persists it before broadcasting it. False when the cap leaves no
 * room for a valid replacement.
 */
async function replace(
  deps: RelayerDeps,
  request: TxRequest,
  newest: TxRequestHash,
  syncWallet: SyncWallet,
): Promise<boolean> {
  if (!request.fromAddress || newest.maxFeePerGas === null || newest.maxPriorityFeePerGas === null) return false;
  const market = await deps.chain.fees();
  const bump = (fee: bigint) => (fee * BUMP_PER_MILLE) / 1000n + 1n;
  const cap = deps.config.relayerMaxFeePerGasWei;
  let maxFeePerGas = max(bump(newest.maxFeePerGas), market.maxFeePerGas);
  if (maxFeePerGas > cap) maxFeePerGas = cap;
  const maxPriorityFeePerGas = min(max(bump(newest.maxPriorityFeePerGas), market.maxPriorityFeePerGas), maxFeePerGas);
  const enough = (fee: bigint, previous: bigint) => fee * 1000n >= previous * MIN_REPLACEMENT_PER_MILLE;
  if (!enough(maxFeePerGas, newest.maxFeePerGas) || !enough(maxPriorityFeePerGas, newest.maxPriorityFeePerGas)) {
    return false;
  }

  const previous = parseTransaction(newest.rawTx) as TransactionSerializableEIP1559;
  const account = await deps.signers.accountFor(request.fromAddress);
  const rawTx = await account.signTransaction({ ...previous, maxFeePerGas, maxPriorityFeePerGas });
  const purpose = newest.purpose === "cancel" ? "cancel" : "speed_up";
  const persisted = await deps.store.persistVariant(
    request,
    {
      purpose,
      nonce: newest.nonce,
      rawTx,
      txHash: keccak256(rawTx),
      to: previous.to ?? request.fromAddress,
      maxFeePerGas,
      maxPriorityFeePerGas,
    },
    {
      kind: transactionKind(request.kind),
      value: previous.value ?? 0n,
      ...callEffect(parseTxRequestPayload(request.kind, request.payload), deps.deployment),
    },
  );
  deps.metrics.replacements.inc();
  deps.logger.info(
    { requestId: request.id, nonce: newest.nonce, txHash: persisted.txHash, maxFeePerGas: maxFeePerGas.toString() },
    "Replaced stuck transaction",
  );
  await broadcastVariant(deps, request, persisted.rawTx, persisted.txHash, syncWallet);
  return true;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
