import type { ImporterOptions } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";

/** The UnixFS import parameters that decide a file's CID in Kubo. */
export type KuboImportParameters = {
  cidVersion: 0 | 1;
  /** Leaves as bare `raw` blocks instead of dag-pb-wrapped UnixFS nodes; Kubo turns it on with `--cid-version 1`. */
  rawLeaves: boolean;
  /** Kubo's `Import.UnixFSChunker` (`size-<n>`). */
  chunkSize: number;
  /** Kubo's `Import.UnixFSFileMaxLinks`: links per node before the balanced layout adds a level. */
  maxLinksPerNode: number;
};

/**
 * What `ipfs add --cid-version 1` uses with Kubo's default import settings: CIDv1, raw leaves, 256 KiB fixed-size
 * chunks, balanced layout of at most 174 links per node. Every CID this package hands out is computed with these, so
 * anyone can check a document against its certificate with a stock Kubo.
 */
export const KUBO_CID_V1_DEFAULTS: KuboImportParameters = {
  cidVersion: 1,
  rawLeaves: true,
  chunkSize: 262_144,
  maxLinksPerNode: 174,
};

/**
 * Importer options that reproduce Kubo's `ipfs add` for the given parameters. Everything is spelled out rather than
 * left to the importer's defaults (or its `profile` option), because those defaults have changed between releases and
 * a silent change would change every CID we publish.
 */
export function kuboImporterOptions(parameters: KuboImportParameters): ImporterOptions {
  return {
    cidVersion: parameters.cidVersion,
    rawLeaves: parameters.rawLeaves,
    // With dag-pb leaves Kubo wraps data in UnixFS `File` nodes (not the old `Raw` type).
    leafType: "file",
    chunker: fixedSize({ chunkSize: parameters.chunkSize }),
    layout: balanced({ maxChildrenPerNode: parameters.maxLinksPerNode }),
    // A file that fits in one chunk is that chunk: a `bafkrei…` raw block with raw leaves.
    reduceSingleLeafToSelf: true,
    fieldOrder: "links-first",
    wrapWithDirectory: false,
  };
}
