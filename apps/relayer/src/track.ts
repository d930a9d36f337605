import type { TxRequest, TxRequestHash } from "@certchain/db";
import { parseTxRequestPayload } from "@certchain/queue";
import { keccak256, parseTransaction, type TransactionSerializableEIP1559 } from "viem";
import { callEffect } from "./calls.ts";
import type { RelayerDeps } from "./deps.ts";
import { ShortOfFundsError, UnderpricedError } from "./errors.ts";
import { broadcastVariant, type SyncWallet, transactionKind } from "./send.ts";
import { fundsOf } from "./wallet-batch.ts";

/** Fee bump per replacement: nodes require ≥ 10 % on both fees; 12.5 % leaves room for rounding. */
const BUMP_PER_MILLE = 1125n;
const MIN_REPLACEMENT_PER_MILLE = 1100n;

/**
 * A broadcast younger than this many poll intervals is left to the block follower. Transactions queued behind an
 * earlier nonce of their wallet wait this long routinely, and checking each of them for a lost nonce or a forgotten
 * broadcast on every poll would spend most of the node's time on requests that are fine.
 */
export const STALE_AFTER_POLLS = 5;

const live = (variant: TxRequestHash) => variant.status !== "dropped";

/**
 * A `sent` request that has waited longer than the follower usually takes to see it mined: looks for a receipt of any
 * of its variants (an earlier one may win after a bump, or it was mined in a block the follower never read). With
 * none, it replaces the transaction if it has waited too long, and rebroadcasts it if the node has forgotten it
 * (dropped from the mempool, or returned by a reorg). Returns `"nonce_used"` when the chain is past its nonce but no
 * variant has a receipt: a foreign transaction took the nonce, or a receipt is not readable yet.
 */
export async function trackSent(
  deps: RelayerDeps,
  request: TxRequest,
  syncWallet: SyncWallet,
): Promise<"nonce_used" | undefined> {
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
    // Mined between the two reads, or a foreign transaction took the nonce: the caller looks again later to tell.
    if (await findMined(deps, request, variants)) return;
    return "nonce_used";
  }

  const replaced =
    waitedMs > deps.config.relayerReplaceAfterMs ? await replace(deps, request, newest, syncWallet) : undefined;
  if (replaced === "replaced") return;
  try {
    await rebroadcastForgotten(deps, request, variants, syncWallet);
  } catch (error) {
    // Forgotten, and now below the base fee: new fees at once rather than after RELAYER_REPLACE_AFTER_MS.
    if (!(error instanceof UnderpricedError)) throw error;
    const repriced = await replace(deps, request, newest, syncWallet);
    if (repriced !== "replaced") throw repriced instanceof ShortOfFundsError ? repriced : error;
  }
  // Waiting for a bump the wallet cannot pay for: said (the follower reports it once a minute), so someone can fund it.
  if (replaced instanceof ShortOfFundsError) throw replaced;
}

/**
 * Sends the newest variant again if the node has forgotten it (dropped from its mempool, returned by a reorg, or never
 * accepted). If the wallet cannot pay for it (its balance fell after a bump was signed), the next older, cheaper
 * variant of the same nonce is tried the same way, and so on.
 */
async function rebroadcastForgotten(
  deps: RelayerDeps,
  request: TxRequest,
  variants: TxRequestHash[],
  syncWallet: SyncWallet,
): Promise<void> {
  let refused: ShortOfFundsError | undefined;
  for (const variant of variants) {
    if (await deps.chain.isKnown(variant.txHash)) return;
    deps.logger.info({ requestId: request.id, txHash: variant.txHash }, "Rebroadcast forgotten transaction");
    try {
      await broadcastVariant(deps, request, variant.rawTx, variant.txHash, syncWallet);
      return;
    } catch (error) {
      if (!(error instanceof ShortOfFundsError)) throw error;
      refused ??= error;
    }
  }
  if (refused) throw refused;
}

/**
 * A `signed` request whose bytes the node refuses as underpriced (the base fee rose while its broadcast kept failing):
 * nothing of it reached the chain, so it is signed again at the same nonce with fees raised to the market (or by the
 * usual bump) and sent. Throws `error` again when the fee cap or the balance leaves no room.
 */
export async function repriceUnsent(
  deps: RelayerDeps,
  request: TxRequest,
  syncWallet: SyncWallet,
  error: UnderpricedError,
): Promise<void> {
  const [newest] = (await deps.store.variants(request.id)).filter(live);
  const outcome = newest ? await replace(deps, request, newest, syncWallet) : "no_room";
  if (outcome !== "replaced") throw outcome instanceof ShortOfFundsError ? outcome : error;
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
 * higher), capped at RELAYER_MAX_FEE_PER_GAS_WEI and at what the wallet can pay; persists it before broadcasting it.
 * `"no_room"` when the cap leaves no room for a valid replacement, a `ShortOfFundsError` (returned, not thrown) when
 * the wallet's funds do not.
 */
async function replace(
  deps: RelayerDeps,
  request: TxRequest,
  newest: TxRequestHash,
  syncWallet: SyncWallet,
): Promise<"replaced" | "no_room" | ShortOfFundsError> {
  if (!request.fromAddress || newest.maxFeePerGas === null || newest.maxPriorityFeePerGas === null) return "no_room";
  const market = await deps.chain.fees();
  const bump = (fee: bigint) => (fee * BUMP_PER_MILLE) / 1000n + 1n;
  const enough = (fee: bigint, previous: bigint) => fee * 1000n >= previous * MIN_REPLACEMENT_PER_MILLE;
  const cap = deps.config.relayerMaxFeePerGasWei;
  let maxFeePerGas = min(max(bump(newest.maxFeePerGas), market.maxFeePerGas), cap);
  if (!enough(maxFeePerGas, newest.maxFeePerGas)) return "no_room";

  const previous = parseTransaction(newest.rawTx) as TransactionSerializableEIP1559;
  const gas = previous.gas ?? 0n;
  const value = previous.value ?? 0n;
  // A bump must fit what the wallet holds less what its other unmined transactions may cost (as a node's pool counts
  // it): one it cannot pay for would be refused and then stand in the way of the variant it was to replace, and one
  // paid from funds promised to a later transaction would leave that one unpayable. Short of the market's price, the
  // most the wallet can pay still does if it is a valid replacement that the next block can take.
  const { balance, promised } = await fundsOf(deps, request.fromAddress, undefined, request.id);
  const spare = balance - promised - value;
  if (gas > 0n && spare < gas * maxFeePerGas) {
    const affordable = spare > 0n ? spare / gas : 0n;
    const baseFee = (await deps.chain.client.getBlock({ blockTag: "latest" })).baseFeePerGas ?? 0n;
    if (!enough(affordable, newest.maxFeePerGas) || affordable <= baseFee) {
      const leastFee = max((newest.maxFeePerGas * MIN_REPLACEMENT_PER_MILLE + 999n) / 1000n, baseFee + 1n);
      return new ShortOfFundsError(
        `wallet ${request.fromAddress} cannot pay to replace ${newest.txHash} (nonce ${newest.nonce}): it holds ${balance} wei, its other unmined transactions may cost ${promised}, and a replacement needs at least ${gas * leastFee + value}`,
      );
    }
    maxFeePerGas = affordable;
  }
  const maxPriorityFeePerGas = min(max(bump(newest.maxPriorityFeePerGas), market.maxPriorityFeePerGas), maxFeePerGas);
  if (!enough(maxPriorityFeePerGas, newest.maxPriorityFeePerGas)) return "no_room";
  const account = await deps.signers.accountFor(request.fromAddress);
  // Field by field: a parsed transaction carries its signature (r, s, yParity), and viem serializes a transaction's own
  // signature into the payload it hashes for signing, so spreading `previous` would sign for another sender.
  const rawTx = await account.signTransaction({
    type: "eip1559",
    chainId: previous.chainId,
    nonce: previous.nonce,
    to: previous.to,
    value: previous.value,
    data: previous.data,
    gas,
    accessList: previous.accessList,
    maxFeePerGas,
    maxPriorityFeePerGas,
  });
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
  return "replaced";
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
