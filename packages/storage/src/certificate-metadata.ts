import { z } from "zod";
import { cidToText, parseCid } from "./cid.ts";
import { normalizeMediaType } from "./media-types.ts";

/**
 * The metadata JSON a certificate's `tokenURI` (`ipfs://<metadata CID>`) points at. Its first fields are the ERC-721
 * metadata shape (EIP-721's JSON schema plus OpenSea's `external_url` and `attributes`), which wallets and
 * marketplaces display; the rest are certchain's, in the same snake_case, and name the certified document by CID
 * and SHA-256 so anyone holding the file can check it.
 */

const address = z.string().regex(/^0x[0-9a-f]{40}$/, "must be 0x and 40 lowercase hex digits");

/** UTC to the second, like the chain's unix-second timestamps: `2026-06-30T00:00:00Z`. */
const timestamp = z.iso.datetime({ precision: 0, error: "must be a UTC time like 2026-06-30T00:00:00Z" });

const uri = (protocols: readonly string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: `must be a ${protocols.map((p) => `${p}//`).join(" or ")} URL` },
  );

const ipfsUri = z.string().refine(
  (value) => {
    if (!value.startsWith("ipfs://")) return false;
    try {
      const text = value.slice("ipfs://".length);
      return cidToText(parseCid(text)) === text;
    } catch {
      return false;
    }
  },
  { error: "must be ipfs:// followed by a CIDv1 in base32" },
);

/** One `attributes` entry as OpenSea reads it; `display_type: "date"` takes unix seconds. */
export const metadataAttributeSchema = z.object({
  trait_type: z.string().min(1).max(100),
  value: z.union([z.string().max(1000), z.number()]),
  display_type: z.enum(["number", "boost_number", "boost_percentage", "date"]).optional(),
});

export const certificateMetadataSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(10_000),
    image: uri(["ipfs:", "https:", "http:"]).optional(),
    /** Where a person can check the certificate, typically our `/verify/<tokenId>` page. */
    external_url: uri(["https:", "http:"]).optional(),
    attributes: z.array(metadataAttributeSchema).max(50),
    issuer: z.object({ address, name: z.string().trim().min(1).max(200) }),
    recipient: z.object({ name: z.string().trim().min(1).max(200), address: address.optional() }),
    issued_at: timestamp,
    /** `null` for a certificate that never expires (`expiresAt = 0` on chain). */
    expires_at: timestamp.nullable(),
    /** `ipfs://<CID of the certified document>`. */
    document: ipfsUri,
    /** SHA-256 of the document's bytes as 64 lowercase hex digits, what `sha256sum` prints. */
    document_sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
    document_size: z.number().int().nonnegative(),
    document_content_type: z
      .string()
      .refine((type) => normalizeMediaType(type) === type, { error: "must be a lowercase media type" }),
  })
  .refine((metadata) => metadata.expires_at === null || metadata.expires_at > metadata.issued_at, {
    path: ["expires_at"],
    error: "must be after issued_at",
  });

export type CertificateMetadata = z.infer<typeof certificateMetadataSchema>;
export type MetadataAttribute = z.infer<typeof metadataAttributeSchema>;

/** The document's CID from `document` (`ipfs://<cid>` → `<cid>`). */
export const documentCidOf = (metadata: CertificateMetadata): string => metadata.document.slice("ipfs://".length);
