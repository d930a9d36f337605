import { DeepReorgError } from "../errors.ts";
import type { Cursor, StoredBlock } from "../store/store.ts";
import type { BlockHeader } from "./rpc.ts";

type Hash = `0x${string}`;

/**
 * Finds the newest block we applied that is still canonical: the common ancestor of our chain and the node's.
 *
 * `stored` are our unfinalized blocks, newest first (from `indexer_blocks`, so this works after a restart too);
 * `canonical(numbers)` returns the node's blocks at those heights, or none for heights above its head (a node
 * that reorged to a shorter chain). If even our finalized block was replaced, the reorg is deeper than the window:
 * `DeepReorgError`, carrying both hashes.
 */
export async function findCommonAncestor(
  cursor: Cursor,
  stored: readonly StoredBlock[],
  head: number,
  canonical: (numbers: number[]) => Promise<BlockHeader[]>,
): Promise<{ number: number; hash: Hash }> {
  const candidates = stored.filter((block) => block.number <= head);
  const finalizedHash = stored.length > 0 ? (stored[stored.length - 1] as StoredBlock).parentHash : cursor.hash;
  const numbers = [...candidates.map((block) => block.number), cursor.finalized].filter((n) => n <= head);
  const chain = new Map((await canonical(numbers)).map((block) => [block.number, block.hash]));

  for (const block of candidates) {
    if (chain.get(block.number) === block.hash) return { number: block.number, hash: block.hash };
  }
  const canonicalFinalized = chain.get(cursor.finalized);
  if (finalizedHash && canonicalFinalized === finalizedHash) return { number: cursor.finalized, hash: finalizedHash };
  throw new DeepReorgError(cursor.finalized, finalizedHash ?? "unknown", canonicalFinalized ?? "missing");
}
