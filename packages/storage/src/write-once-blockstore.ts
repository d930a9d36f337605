import type { CID } from "multiformats/cid";
import type { BlockStorage } from "./block-storage.ts";

/**
 * Writes each block at most once. Blocks are content-addressed, so a block already on disk is already right; and
 * blockstore-fs writes every block through one fixed temporary name, so two simultaneous writes of the same block
 * (two uploads of the same document) could otherwise expose a half-written file to a reader. Concurrent puts of one
 * CID share a single write. This covers one process; two processes sharing a directory are not coordinated.
 */
export function writeOnce(storage: BlockStorage): BlockStorage {
  const writing = new Map<string, Promise<CID>>();

  const put = (cid: CID, block: Uint8Array): Promise<CID> => {
    const key = cid.toString();
    const pending = writing.get(key);
    if (pending) return pending;
    const write = (async () => ((await storage.has(cid)) ? cid : storage.put(cid, block)))().finally(() =>
      writing.delete(key),
    );
    writing.set(key, write);
    return write;
  };

  return { put, get: (cid, options) => storage.get(cid, options), has: (cid) => storage.has(cid) };
}
