import type { CID } from "multiformats/cid";

/** The part of a blockstore the content store uses: the importer puts, the exporter gets. */
export type BlockStorage = {
  put(cid: CID, block: Uint8Array): Promise<CID>;
  get(cid: CID, options?: { signal?: AbortSignal }): AsyncGenerator<Uint8Array>;
  has(cid: CID): Promise<boolean>;
};

/** Reads a whole block into one buffer. */
export async function readBlock(storage: Pick<BlockStorage, "get">, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of storage.get(cid)) chunks.push(chunk);
  return chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks);
}
