import { type Logger, UserFacingError } from "@certchain/common";
import type { Store } from "./store/store.ts";
import type { Rpc } from "./sync/rpc.ts";

/**
 * `--rebuild-from <block>`: recovery from a reorg deeper than the window. Forgets what was indexed from `block` on
 * (from earlier, if a certificate or listing changed after it was created before it: see `store/rebuild.ts`), so the
 * next run re-indexes from there. Refuses, with a message for the operator, a block above the indexed one, or one
 * above the fork: every row kept must come from a canonical block (the newest ones are checked against the node).
 * Re-indexing starts right after the newest row kept, which may be below `block`: the fork may lie anywhere above
 * it. A start at or below the deployment blocks is a full reset (`--rebuild`). The caller holds the lease.
 */
export async function forgetFrom(
  deps: { store: Store; rpc: Rpc; logger: Logger; startBlock: number },
  block: number,
): Promise<void> {
  const { store, rpc, logger, startBlock } = deps;
  const indexed = await store.loadCursor();
  if (!indexed) {
    logger.info({ block }, "Found nothing indexed; indexing starts from the deployment blocks");
    return;
  }
  if (block > indexed.number)
    throw new UserFacingError(`nothing is indexed from block ${block} on (indexed up to block ${indexed.number})`);
  const { start, refsBelow } = await store.planRebuild(block);
  if (start <= startBlock) {
    await store.reset();
    logger.info({ block }, "Reset the indexed state; indexing starts again from the deployment blocks");
    return;
  }
  // The rows kept below the start must all come from canonical blocks, or the fork is lower than `block`.
  const head = await rpc.getHeadNumber();
  const numbers = [...new Set([start - 1, ...refsBelow.map((ref) => ref.number)])].filter((n) => n <= head);
  const canonical = new Map((await rpc.getHeaders(numbers)).map((header) => [header.number, header.hash]));
  const orphaned = refsBelow.filter((ref) => canonical.get(ref.number) !== ref.hash);
  // Newest first: the last one is the lowest orphaned block seen; the fork is at or below it.
  const lowest = orphaned[orphaned.length - 1];
  if (lowest)
    throw new UserFacingError(
      `rows kept below block ${start} come from blocks the chain no longer has (the lowest checked is block ${lowest.number}); rebuild from block ${lowest.number} or earlier`,
    );
  // The newest row kept is canonical, so the indexed chain and the node's agree up to its block. Between it and the
  // start no row tells whether the blocks we indexed there are still the chain's, and the fork may lie anywhere in
  // that stretch: re-indexing starts right after that row's block, or no canonical event in between would be read.
  const newest = refsBelow[0];
  const from = newest ? Math.min(start, newest.number + 1) : startBlock;
  if (from <= startBlock) {
    await store.reset();
    logger.info({ block }, "Found no row to keep; indexing starts again from the deployment blocks");
    return;
  }
  const parent = from === start ? canonical.get(start - 1) : newest?.hash;
  if (!parent) throw new UserFacingError(`the node has no block ${from - 1} (its head is ${head})`);
  const deleted = await store.rebuildFrom(from, { number: from - 1, hash: parent });
  logger.info({ block, start: from, deleted }, "Forgot the indexed state from a block on; re-indexing from there");
}
