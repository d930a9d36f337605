import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ZodError } from "zod";
import {
  type CertificateMetadataInput,
  type ContentStore,
  canonicalJson,
  certificateMetadataSchema,
  computeCid,
  createContentStore,
  documentCidOf,
  InvalidMetadataError,
  JSON_TYPE,
  PDF,
  readCertificateMetadata,
  storeCertificateMetadata,
} from "../src/index.ts";
import { collect } from "./support/bytes.ts";
import { minimalPdf } from "./support/sample-files.ts";
import { createTempDirectory } from "./support/temp-directory.ts";

const ISSUER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

const diploma = (overrides: Partial<CertificateMetadataInput> = {}): CertificateMetadataInput => ({
  name: "BSc Computer Science — Ada Lovelace",
  description: "Awarded with first-class honours.",
  externalUrl: "http://localhost:3000/verify/1",
  issuer: { address: ISSUER, name: "University of Example" },
  recipient: { name: "Ada Lovelace", address: RECIPIENT },
  issuedAt: new Date("2026-06-30T12:00:00.750Z"),
  expiresAt: new Date("2036-06-30T00:00:00Z"),
  document: { bytes: minimalPdf, contentType: PDF },
  ...overrides,
});

let directory: Awaited<ReturnType<typeof createTempDirectory>>;
let store: ContentStore;

beforeEach(async () => {
  directory = await createTempDirectory();
  store = await createContentStore({ directory: directory.path });
});
afterEach(() => directory.remove());

describe("storeCertificateMetadata", () => {
  test("default: stores the document and its metadata, and the metadata names the document", async () => {
    const { metadataCid, documentCid, metadata } = await storeCertificateMetadata(store, diploma());

    expect(documentCid).toBe(await computeCid(minimalPdf));
    expect(await store.stat(documentCid)).toEqual({ size: minimalPdf.length, contentType: PDF });
    expect(await store.stat(metadataCid)).toMatchObject({ contentType: JSON_TYPE });
    expect(metadata).toEqual({
      name: "BSc Computer Science — Ada Lovelace",
      description: "Awarded with first-class honours.",
      external_url: "http://localhost:3000/verify/1",
      attributes: [
        { trait_type: "Issuer", value: "University of Example" },
        { trait_type: "Recipient", value: "Ada Lovelace" },
        { trait_type: "Issued", display_type: "date", value: 1782820800 },
        { trait_type: "Expires", display_type: "date", value: 2098396800 },
      ],
      issuer: { address: ISSUER.toLowerCase(), name: "University of Example" },
      recipient: { name: "Ada Lovelace", address: RECIPIENT.toLowerCase() },
      issued_at: "2026-06-30T12:00:00Z",
      expires_at: "2036-06-30T00:00:00Z",
      document: `ipfs://${documentCid}`,
      document_sha256: createHash("sha256").update(minimalPdf).digest("hex"),
      document_size: minimalPdf.length,
      document_content_type: PDF,
    });
    expect(documentCidOf(metadata)).toBe(documentCid);
  });

  test("behavior: the stored bytes are canonical JSON, read back as the same metadata", async () => {
    const { metadataCid, metadata } = await storeCertificateMetadata(store, diploma());
    const stored = new TextDecoder().decode(await collect(await store.get(metadataCid)));
    expect(stored).toBe(canonicalJson(metadata));
    expect(stored.startsWith('{"attributes":[{"trait_type":"Issuer"')).toBe(true);
    expect(await readCertificateMetadata(store, metadataCid)).toEqual(metadata);
  });

  test("behavior: the same certificate gives the same metadata CID, whatever the field order", async () => {
    const first = await storeCertificateMetadata(store, diploma());
    const reordered = Object.fromEntries(Object.entries(diploma()).reverse()) as CertificateMetadataInput;
    const second = await storeCertificateMetadata(store, reordered);
    expect(second.metadataCid).toBe(first.metadataCid);
  });

  test("behavior: a certificate that never expires has expires_at null and no Expires attribute", async () => {
    const { metadata } = await storeCertificateMetadata(store, diploma({ expiresAt: null }));
    expect(metadata.expires_at).toBeNull();
    expect(metadata.attributes.map((a) => a.trait_type)).toEqual(["Issuer", "Recipient", "Issued"]);
  });

  test("error: invalid input is a ZodError and stores nothing", async () => {
    const input = diploma({ expiresAt: new Date("2020-01-01T00:00:00Z") });
    await expect(storeCertificateMetadata(store, input)).rejects.toThrow(ZodError);
    expect(await store.has(await computeCid(minimalPdf))).toBe(false);
  });
});

describe("certificateMetadataSchema", () => {
  const valid = async () => (await storeCertificateMetadata(store, diploma())).metadata;

  test.each([
    ["a missing name", { name: undefined }, "name"],
    ["a blank name", { name: "   " }, "name"],
    ["attributes that are not an array", { attributes: { Issuer: "x" } }, "attributes"],
    ["a checksummed (mixed-case) issuer address", { issuer: { address: ISSUER, name: "U" } }, "issuer.address"],
    ["a short recipient address", { recipient: { name: "Ada", address: "0x1234" } }, "recipient.address"],
    ["an issue date with an offset", { issued_at: "2026-06-30T12:00:00+02:00" }, "issued_at"],
    ["an issue date with milliseconds", { issued_at: "2026-06-30T12:00:00.750Z" }, "issued_at"],
    ["an expiry before the issue date", { expires_at: "2026-01-01T00:00:00Z" }, "expires_at"],
    ["a document that is a web link", { document: "https://example.com/diploma.pdf" }, "document"],
    ["a document CID that is malformed", { document: "ipfs://bafyNOTACID" }, "document"],
    ["a document CIDv0", { document: "ipfs://Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD" }, "document"],
    ["an upper-case SHA-256", { document_sha256: "AB".repeat(32) }, "document_sha256"],
    ["a 0x-prefixed SHA-256", { document_sha256: `0x${"ab".repeat(32)}` }, "document_sha256"],
    ["a negative size", { document_size: -1 }, "document_size"],
    ["a fractional size", { document_size: 1.5 }, "document_size"],
    [
      "a content type with parameters",
      { document_content_type: "application/json; charset=utf-8" },
      "document_content_type",
    ],
    ["a javascript: external_url", { external_url: "javascript:alert(1)" }, "external_url"],
  ])("error: %s is rejected", async (_case, change, path) => {
    const result = certificateMetadataSchema.safeParse({ ...(await valid()), ...change });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join("."))).toContain(path);
  });

  test("error: stored JSON that is not certificate metadata is an InvalidMetadataError", async () => {
    const { cid } = await store.put(new TextEncoder().encode('{"name":"just a JSON file"}'), JSON_TYPE);
    await expect(readCertificateMetadata(store, cid)).rejects.toThrow(InvalidMetadataError);
    const { cid: pdfCid } = await store.put(minimalPdf, PDF);
    await expect(readCertificateMetadata(store, pdfCid)).rejects.toThrow(/is not JSON/);
  });
});

describe("canonicalJson", () => {
  test("default: sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: "é" }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"y":"é","z":null}]},"b":1}',
    );
  });

  test("error: values JSON cannot hold are refused", () => {
    expect(() => canonicalJson({ size: Number.NaN })).toThrow("$.size is NaN");
    expect(() => canonicalJson({ at: new Date(0) })).toThrow("$.at is a Date, not JSON");
  });
});
