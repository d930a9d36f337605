import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json.ts";
import { type CertificateMetadata, certificateMetadataSchema, type MetadataAttribute } from "./certificate-metadata.ts";
import { computeCid } from "./compute-cid.ts";
import type { ContentStore } from "./content-store.ts";
import { StorageError } from "./errors.ts";
import { JSON_TYPE } from "./media-types.ts";

export type CertificateMetadataInput = {
  name: string;
  description: string;
  image?: string | undefined;
  externalUrl?: string | undefined;
  issuer: { address: string; name: string };
  recipient: { name: string; address?: string | undefined };
  issuedAt: Date;
  /** `null` when the certificate never expires. */
  expiresAt: Date | null;
  /** Shown by wallets after the ones generated from the fields above. */
  attributes?: MetadataAttribute[] | undefined;
  /** The certified document, already checked with `inspectUpload` (its detected type goes here). */
  document: { bytes: Uint8Array; contentType: string };
};

export type StoredCertificateMetadata = {
  /** What goes on chain: `issue(to, metadataCid, expiresAt)`, and `tokenURI` becomes `ipfs://<metadataCid>`. */
  metadataCid: string;
  documentCid: string;
  metadata: CertificateMetadata;
};

/**
 * Stores the document, then its certificate metadata as canonical JSON (`application/json`). Everything is validated
 * before anything is written, so invalid input (a `ZodError`) leaves nothing behind. Same input, same CIDs.
 */
export async function storeCertificateMetadata(
  store: ContentStore,
  input: CertificateMetadataInput,
): Promise<StoredCertificateMetadata> {
  const documentCid = await computeCid(input.document.bytes);
  const metadata = buildCertificateMetadata(input, documentCid);
  const document = await store.put(input.document.bytes, input.document.contentType);
  if (document.cid !== documentCid) {
    throw new StorageError(`The document was stored as ${document.cid}, but its computed CID is ${documentCid}`);
  }
  const stored = await store.put(new TextEncoder().encode(canonicalJson(metadata)), JSON_TYPE);
  return { metadataCid: stored.cid, documentCid, metadata };
}

/** The metadata for `input` whose document has CID `documentCid`; throws `ZodError` when it would be invalid. */
export function buildCertificateMetadata(input: CertificateMetadataInput, documentCid: string): CertificateMetadata {
  const issuedAt = toUtcSeconds(input.issuedAt);
  const expiresAt = input.expiresAt && toUtcSeconds(input.expiresAt);
  const generatedAttributes: MetadataAttribute[] = [
    { trait_type: "Issuer", value: input.issuer.name },
    { trait_type: "Recipient", value: input.recipient.name },
    { trait_type: "Issued", display_type: "date", value: unixSeconds(input.issuedAt) },
    ...(input.expiresAt
      ? [{ trait_type: "Expires", display_type: "date" as const, value: unixSeconds(input.expiresAt) }]
      : []),
  ];
  return certificateMetadataSchema.parse({
    name: input.name,
    description: input.description,
    // Optional fields are left out rather than set to undefined, so the parsed metadata has no empty keys.
    ...(input.image !== undefined && { image: input.image }),
    ...(input.externalUrl !== undefined && { external_url: input.externalUrl }),
    attributes: [...generatedAttributes, ...(input.attributes ?? [])],
    issuer: { address: input.issuer.address.toLowerCase(), name: input.issuer.name },
    recipient: {
      name: input.recipient.name,
      ...(input.recipient.address !== undefined && { address: input.recipient.address.toLowerCase() }),
    },
    issued_at: issuedAt,
    expires_at: expiresAt,
    document: `ipfs://${documentCid}`,
    document_sha256: createHash("sha256").update(input.document.bytes).digest("hex"),
    document_size: input.document.bytes.length,
    document_content_type: input.document.contentType,
  });
}

const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** `2026-06-30T00:00:00Z`: whole seconds, as the chain keeps time; an invalid date is left for the schema to refuse. */
const toUtcSeconds = (date: Date): string =>
  Number.isNaN(date.getTime())
    ? "invalid date"
    : new Date(unixSeconds(date) * 1000).toISOString().replace(".000Z", "Z");
