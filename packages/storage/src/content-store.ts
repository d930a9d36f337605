import { join, resolve } from "node:path";
import { FsBlockstore } from "blockstore-fs";
import { NextToLast } from "blockstore-fs/sharding";
import { exporter } from "ipfs-unixfs-exporter";
import { CID } from "multiformats/cid";
import { type BlockStorage, readBlock } from "./block-storage.ts";
import { canonicalCid } from "./cid.ts";
import { type Content, importContent } from "./compute-cid.ts";
import { createContentIndex } from "./content-index.ts";
import { ContentNotFoundError, InvalidRangeError, StorageError } from "./errors.ts";
import { createKuboRpcClient, type KuboRpcClient } from "./kubo-rpc.ts";
import { normalizeMediaType } from "./media-types.ts";
import { readThrough } from "./read-through-blockstore.ts";
import { writeOnce } from "./write-once-blockstore.ts";

export type ContentStoreOptions = {
  /** Where blocks (`blocks/`) and content types (`content/`) are kept (`STORAGE_DIR`); created when missing. */
  directory: string;
  /**
   * Kubo RPC API (`IPFS_API_URL`, e.g. `http://127.0.0.1:5001`). When set, every stored CID is also pushed to and
   * pinned on that node, and blocks missing locally are read through it.
   */
  ipfsApiUrl?: string | undefined;
  /** Limit for each request to the IPFS node (`IPFS_API_TIMEOUT_MS`); default 30 s. */
  ipfsTimeoutMs?: number | undefined;
};

/** What `put` stored. */
export type StoredContent = {
  /** CIDv1, base32: what `ipfs add --cid-version 1` prints for the same bytes. */
  cid: string;
  size: number;
  /** The content type on record: the one given, unless the same bytes were stored earlier with another. */
  contentType: string;
};

export type ContentInfo = { size: number; contentType: string };

/** A byte range: `length` bytes from `offset` (both default to the whole content). */
export type ByteRange = { offset?: number | undefined; length?: number | undefined };

export type ContentStore = {
  /**
   * Stores bytes under their CID. Idempotent: storing the same bytes again (also concurrently) returns the same CID
   * and keeps the first content type. With an IPFS node configured, resolves once the node holds and pins the CID;
   * if the node fails, the content is still stored locally and the `IpfsNodeError` can be retried with another put.
   */
  put(content: Content, contentType: string): Promise<StoredContent>;
  /**
   * The stored bytes, or the requested range of them, as a stream. Throws before streaming: `InvalidCidError`,
   * `ContentNotFoundError`, `InvalidRangeError`.
   */
  get(cid: string | CID, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
  /** True when content is stored under this CID. Throws `InvalidCidError` for malformed text. */
  has(cid: string | CID): Promise<boolean>;
  /** Size and content type, or `undefined` when nothing is stored under this CID. */
  stat(cid: string | CID): Promise<ContentInfo | undefined>;
};

const DEFAULT_IPFS_TIMEOUT_MS = 30_000;

/** Opens (creating if needed) a content store on local disk, optionally mirrored to a Kubo node. */
export async function createContentStore(options: ContentStoreOptions): Promise<ContentStore> {
  const blocksDirectory = resolve(options.directory, "blocks");
  const sharding = new NextToLast();
  const fsBlockstore = new FsBlockstore(blocksDirectory, { shardingStrategy: sharding });
  await fsBlockstore.open();
  const index = createContentIndex(join(options.directory, "content"));
  const node = options.ipfsApiUrl
    ? createKuboRpcClient({
        apiUrl: options.ipfsApiUrl,
        timeoutMs: options.ipfsTimeoutMs ?? DEFAULT_IPFS_TIMEOUT_MS,
      })
    : undefined;
  const local = writeOnce(fsBlockstore, { directory: blocksDirectory, sharding });
  const blocks = node ? readThrough(local, node) : local;

  const stat = async (cid: string | CID): Promise<ContentInfo | undefined> => {
    const record = await index.read(canonicalCid(cid));
    return record && { size: record.size, contentType: record.contentType };
  };

  return {
    async put(content, contentType) {
      const type = normalizeMediaType(contentType);
      if (!type) throw new TypeError(`"${contentType}" is not a media type such as application/pdf`);
      // Every block this import hands over, including ones already on disk, so a retried put re-sends them all.
      const written = new Map<string, CID>();
      const recording: BlockStorage = {
        ...blocks,
        put: (cid, block) => {
          written.set(cid.toString(), cid);
          return blocks.put(cid, block);
        },
      };
      const root = await importContent(content, recording);
      const cid = canonicalCid(root.cid);
      const record = await index.add(cid, { contentType: type, size: root.size, storedAt: new Date().toISOString() });
      if (node) await pinOnNode(node, local, root.cid, [...written.values()]);
      return { cid, size: record.size, contentType: record.contentType };
    },

    async get(cid, range = {}) {
      const key = canonicalCid(cid);
      const record = await index.read(key);
      if (!record) throw new ContentNotFoundError(key);
      const { offset, length } = checkRange(key, record.size, range);
      let entry: Awaited<ReturnType<typeof exporter>>;
      try {
        entry = await exporter(CID.parse(key), blocks);
      } catch (error) {
        if (error instanceof StorageError) throw error;
        throw new StorageError(`Content ${key} is on record but its blocks cannot be read`, { cause: error });
      }
      if (entry.type !== "file" && entry.type !== "raw") {
        throw new StorageError(`Content ${key} is a UnixFS ${entry.type}, not a file`);
      }
      return entry.content({ offset, length });
    },

    has: async (cid) => (await stat(cid)) !== undefined,
    stat,
  };
}

function checkRange(cid: string, size: number, range: ByteRange): { offset: number; length: number } {
  const offset = range.offset ?? 0;
  const length = range.length ?? size - offset;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw new InvalidRangeError(cid, size, `Offset ${offset} is outside the ${size} bytes of ${cid}`);
  }
  if (!Number.isSafeInteger(length) || length < 0 || offset + length > size) {
    throw new InvalidRangeError(
      cid,
      size,
      `${length} bytes from offset ${offset} run past the ${size} bytes of ${cid}`,
    );
  }
  return { offset, length };
}

/** Pushes the blocks the import touched (from local disk), then pins the root so the node's GC keeps the DAG. */
async function pinOnNode(node: KuboRpcClient, local: BlockStorage, root: CID, blocks: CID[]): Promise<void> {
  for (const cid of blocks) await node.putBlock(cid, await readBlock(local, cid));
  await node.pin(root);
}
