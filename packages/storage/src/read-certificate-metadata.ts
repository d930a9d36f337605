import { type CertificateMetadata, certificateMetadataSchema } from "./certificate-metadata.ts";
import type { ContentStore } from "./content-store.ts";
import { InvalidMetadataError } from "./errors.ts";

/** Metadata JSON is small; this bounds what verification reads for a CID taken from the chain. */
const MAX_METADATA_BYTES = 64 * 1024;

/**
 * Reads and validates the metadata stored under `cid` (from `tokenURI`), for verification. Throws
 * `ContentNotFoundError` when the store does not have it, `InvalidMetadataError` when it is not valid metadata.
 */
export async function readCertificateMetadata(store: ContentStore, cid: string): Promise<CertificateMetadata> {
  const info = await store.stat(cid);
  if (info && info.size > MAX_METADATA_BYTES) {
    throw new InvalidMetadataError(`${cid} is ${info.size} bytes, too large to be certificate metadata`);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of await store.get(cid)) chunks.push(chunk);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks)));
  } catch (error) {
    throw new InvalidMetadataError(`${cid} is not JSON`, { cause: error });
  }
  const parsed = certificateMetadataSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "metadata"} ${issue.message}`);
    throw new InvalidMetadataError(`${cid} is not valid certificate metadata: ${problems.join("; ")}`);
  }
  return parsed.data;
}
