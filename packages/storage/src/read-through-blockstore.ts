import { sha256 } from "multiformats/hashes/sha2";
import type { BlockStorage } from "./block-storage.ts";
import { IpfsNodeError } from "./errors.ts";
import type { KuboRpcClient } from "./kubo-rpc.ts";

/**
 * Local blocks first; a block missing on disk (pruned, or a directory restored without its blocks) is fetched from
 * the IPFS node, checked against its CID, and kept locally for next time. The node is a peer we do not control, so
 * a block whose hash does not match is refused rather than served.
 */
export function readThrough(local: BlockStorage, node: KuboRpcClient): BlockStorage {
  return {
    put: (cid, block) => local.put(cid, block),
    has: (cid) => local.has(cid),
    async *get(cid, options) {
      if (await local.has(cid)) {
        yield* local.get(cid, options);
        return;
      }
      const block = await node.getBlock(cid, options);
      if (cid.multihash.code !== sha256.code) {
        throw new IpfsNodeError(`Cannot check block ${cid}: only sha2-256 CIDs are accepted from the IPFS node`);
      }
      const digest = await sha256.digest(block);
      if (!Buffer.from(digest.bytes).equals(cid.multihash.bytes)) {
        throw new IpfsNodeError(`The IPFS node returned a block that does not match ${cid}`);
      }
      await local.put(cid, block);
      yield block;
    },
  };
}
