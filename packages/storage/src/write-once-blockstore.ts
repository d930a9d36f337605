import { randomBytes } from "node:crypto";
import { link, mkdir, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ShardingStrategy } from "blockstore-fs/sharding";
import type { CID } from "multiformats/cid";
import type { BlockStorage } from "./block-storage.ts";

/**
 * blockstore-fs's blocks, each written at most once and never visible half-written, also when several processes
 * share the directory (API instances on one `STORAGE_DIR` volume).
 *
 * blockstore-fs writes a block through one fixed temporary name and renames it into place. Two writers of the same
 * block (the same document uploaded to two instances at once) then write into one temporary file, and the first
 * rename can publish it while the second writer is still rewriting it. Here each write goes to a temporary file of
 * its own, hard-linked into place: `link` fails if the block exists, which makes "create if absent" atomic, and a block
 * is complete from the moment its name exists. Blocks are content-addressed, so whichever writer wins wrote the same
 * bytes. Concurrent puts of one CID in this process share a single write.
 */
export function writeOnce(
  store: Pick<BlockStorage, "get" | "has">,
  /** Where `store` keeps its blocks and how it names them, so a block written here is one `store` reads. */
  layout: { directory: string; sharding: ShardingStrategy },
): BlockStorage {
  const writing = new Map<string, Promise<CID>>();

  const write = async (cid: CID, block: Uint8Array): Promise<CID> => {
    if (await store.has(cid)) return cid;
    const { dir, file } = layout.sharding.encode(cid);
    const path = join(layout.directory, dir, file);
    await mkdir(dirname(path), { recursive: true });
    const temporary = join(dirname(path), `.${file}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFile(temporary, block);
      await link(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      // Also after a failed write (a full disk): nothing half-written stays behind. A block in place is stored, whatever
      // becomes of its temporary name.
      await unlink(temporary).catch(() => {});
    }
    return cid;
  };

  const put = (cid: CID, block: Uint8Array): Promise<CID> => {
    const key = cid.toString();
    const pending = writing.get(key);
    if (pending) return pending;
    const written = write(cid, block).finally(() => writing.delete(key));
    writing.set(key, written);
    return written;
  };

  return { put, get: (cid, options) => store.get(cid, options), has: (cid) => store.has(cid) };
}
