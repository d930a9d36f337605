import { importer } from "ipfs-unixfs-importer";
import type { CID } from "multiformats/cid";
import { cidToText } from "./cid.ts";
import { KUBO_CID_V1_DEFAULTS, kuboImporterOptions } from "./kubo-import.ts";

/** Bytes to import: a buffer, or a stream of chunks (a Node `Readable` or a web `ReadableStream` both qualify). */
export type Content = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Somewhere the importer can put blocks. */
export type BlockSink = { put(cid: CID, block: Uint8Array): Promise<CID> | CID };

export const importerOptions = kuboImporterOptions(KUBO_CID_V1_DEFAULTS);

/** Imports `content` as one UnixFS file into `sink` and returns its root CID and byte size. */
export async function importContent(content: Content, sink: BlockSink): Promise<{ cid: CID; size: number }> {
  let root: { cid: CID; size: number } | undefined;
  for await (const entry of importer([{ content }], sink, importerOptions)) {
    root = { cid: entry.cid, size: Number(entry.unixfs?.fileSize() ?? entry.size) };
  }
  if (!root) throw new Error("the UnixFS importer produced no root for the content");
  return root;
}

/** A sink that keeps nothing: the importer only needs somewhere to hand blocks to while hashing. */
const discardBlocks: BlockSink = { put: (cid) => cid };

/**
 * The CID `ipfs add --cid-version 1` gives these bytes, without storing anything. Verification uses it to ask "is
 * this the certified document?" for a file someone uploads.
 */
export async function computeCid(content: Content): Promise<string> {
  const { cid } = await importContent(content, discardBlocks);
  return cidToText(cid);
}
