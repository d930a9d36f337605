import { createHash } from "node:crypto";
import { certificateDocuments, certificates } from "@certchain/db";
import { computeCid, storeCertificateMetadata } from "@certchain/storage";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CertifiedDocument, certificateFixtures, holder, pdfBytes } from "./certificate-fixtures.ts";
import { createTestApi, type TestApi, type TrpcResult } from "./helpers.ts";

/**
 * `certificates.verifyDocument` over tRPC's multipart path (a `FormData` body, as tRPC clients send a file), against
 * certificates issued on a real anvil and indexed as the indexer would.
 */
let api: TestApi;
let fixtures: ReturnType<typeof certificateFixtures>;
let diploma: CertifiedDocument;

beforeAll(async () => {
  api = await createTestApi();
  fixtures = certificateFixtures(api);
  diploma = await fixtures.certifyDocument(pdfBytes("diploma"));
});
afterAll(() => api.close());

function pdf(bytes: Uint8Array, name = "document.pdf"): File {
  return new File([bytes], name, { type: "application/pdf" });
}

async function verifyDocument(document: File | string, tokenId?: number | string): Promise<TrpcResult> {
  const body = new FormData();
  body.append("document", document);
  if (tokenId !== undefined) body.append("tokenId", String(tokenId));
  const response = await api.app.request("/trpc/certificates.verifyDocument", { method: "POST", body });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const dataOf = (result: TrpcResult) => {
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body.result.data;
};

/** One byte of the certified file changed: the same size and type, another CID. */
function tampered(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  const at = copy.indexOf("d".charCodeAt(0));
  copy[at] = "D".charCodeAt(0);
  return copy;
}

describe("certificates.verifyDocument", () => {
  test("default: the certified file matches its valid certificate, read from the chain", async () => {
    const result = dataOf(await verifyDocument(pdf(diploma.bytes)));
    expect(result).toMatchObject({
      documentCid: diploma.documentCid,
      documentSha256: createHash("sha256").update(diploma.bytes).digest("hex"),
      size: diploma.bytes.length,
      contentType: "application/pdf",
      tokenId: null,
      verdict: "valid",
      truncated: false,
    });
    expect(result.matches).toHaveLength(1);
    expect(result.matches[0]).toMatchObject({
      tokenId: diploma.tokenId,
      verdict: "valid",
      onChain: { owner: holder, cid: diploma.metadataCid },
      index: { state: "match", mismatches: [] },
    });
  });

  test("behavior: with the certificate's number, the verdict is that certificate's", async () => {
    const result = dataOf(await verifyDocument(pdf(diploma.bytes), diploma.tokenId));
    expect(result).toMatchObject({ tokenId: diploma.tokenId, verdict: "valid" });
    expect(result.matches.map((match: { tokenId: number }) => match.tokenId)).toEqual([diploma.tokenId]);
  });

  test("behavior: the document of a revoked certificate matches it, revoked, with the reason", async () => {
    const licence = await fixtures.certifyDocument(pdfBytes("revoked licence"));
    await fixtures.revoke(licence.tokenId, "issued in error");
    const result = dataOf(await verifyDocument(pdf(licence.bytes)));
    expect(result.verdict).toBe("revoked");
    expect(result.matches).toMatchObject([
      { tokenId: licence.tokenId, verdict: "revoked", revocationReason: "issued in error", index: { state: "match" } },
    ]);
  });

  test("behavior: a document certified twice, once revoked, is valid by the other certificate; both are listed", async () => {
    const bytes = pdfBytes("reissued");
    const first = await fixtures.certifyDocument(bytes, { recipientName: "First Recipient" });
    await fixtures.revoke(first.tokenId, "superseded");
    const second = await fixtures.certifyDocument(bytes, { recipientName: "Second Recipient" });
    expect(second.metadataCid).not.toBe(first.metadataCid);
    const result = dataOf(await verifyDocument(pdf(bytes)));
    expect(result.verdict).toBe("valid");
    expect(result.matches.map((match: { tokenId: number; verdict: string }) => [match.tokenId, match.verdict])).toEqual(
      [
        [second.tokenId, "valid"],
        [first.tokenId, "revoked"],
      ],
    );
    // Asked about the revoked one, the answer is about that one.
    expect(dataOf(await verifyDocument(pdf(bytes), first.tokenId)).verdict).toBe("revoked");
  });

  test("behavior: a file no certificate names is unknown, and is not stored", async () => {
    const stranger = pdfBytes("never certified");
    const result = dataOf(await verifyDocument(pdf(stranger)));
    expect(result).toMatchObject({ verdict: "unknown", matches: [], documentCid: await computeCid(stranger) });
    expect(await api.deps.storage.has(result.documentCid)).toBe(false);
    // A certificate number that was never issued is unknown too, whatever the file.
    expect(dataOf(await verifyDocument(pdf(diploma.bytes), 424_242))).toMatchObject({
      verdict: "unknown",
      matches: [],
    });
  });

  test("behavior: a tampered document (one byte changed) does not match the certificate it claims", async () => {
    const altered = tampered(diploma.bytes);
    expect(altered.length).toBe(diploma.bytes.length);
    const claimed = dataOf(await verifyDocument(pdf(altered), diploma.tokenId));
    expect(claimed).toMatchObject({ tokenId: diploma.tokenId, verdict: "no_match", matches: [] });
    expect(claimed.documentCid).not.toBe(diploma.documentCid);
    // Without a number, no certificate names it.
    expect(dataOf(await verifyDocument(pdf(altered)))).toMatchObject({ verdict: "unknown", matches: [] });
    // And the genuine file does not match another certificate's number.
    const other = await fixtures.certifyDocument(pdfBytes("another diploma"));
    expect(dataOf(await verifyDocument(pdf(diploma.bytes), other.tokenId)).verdict).toBe("no_match");
  });

  test("behavior: index rows that do not hold up against the chain and the metadata are ignored", async () => {
    const bytes = pdfBytes("claimed by bad rows");
    const documentCid = await computeCid(bytes);
    // A link row naming metadata that names another document, for a certificate that exists on chain.
    const other = await fixtures.certifyDocument(pdfBytes("the real document of that certificate"));
    await api.deps.db.insert(certificateDocuments).values({
      documentCid,
      metadataCid: other.metadataCid,
      documentSha256: createHash("sha256").update(bytes).digest("hex"),
    });
    // An indexed row whose CID the chain does not have: the chain's metadata names another document.
    const stored = await storeCertificateMetadata(api.deps.storage, {
      name: "Forged",
      description: "",
      issuer: { address: holder, name: "Nobody" },
      recipient: { name: "Mallory" },
      issuedAt: new Date(),
      expiresAt: null,
      document: { bytes, contentType: "application/pdf" },
    });
    await api.deps.db.insert(certificateDocuments).values({
      documentCid,
      metadataCid: stored.metadataCid,
      documentSha256: stored.metadata.document_sha256,
    });
    const onChainElsewhere = await fixtures.issueIndexed(other.metadataCid);
    await api.deps.db
      .update(certificates)
      .set({ ipfsHash: stored.metadataCid })
      .where(eq(certificates.tokenId, onChainElsewhere));
    // An indexed row for a token the registry never issued.
    const ghost = await fixtures.issueIndexed("bafkreighostplaceholder");
    await api.deps.db
      .update(certificates)
      .set({ tokenId: 900_000, ipfsHash: stored.metadataCid })
      .where(eq(certificates.tokenId, ghost));

    const result = dataOf(await verifyDocument(pdf(bytes)));
    expect(result).toMatchObject({ documentCid, verdict: "unknown", matches: [] });
  });

  test("behavior: a certificate past its expiry on chain makes its document expired", async () => {
    const now = Number((await fixtures.chain.getBlock()).timestamp);
    const permit = await fixtures.certifyDocument(pdfBytes("expiring permit"), {
      expiresAt: new Date((now + 100) * 1000),
    });
    expect(dataOf(await verifyDocument(pdf(permit.bytes))).verdict).toBe("valid");
    await fixtures.advanceTime(200);
    const result = dataOf(await verifyDocument(pdf(permit.bytes), permit.tokenId));
    expect(result).toMatchObject({ verdict: "expired", matches: [{ tokenId: permit.tokenId, verdict: "expired" }] });
  });
});

describe("certificates.verifyDocument refusals", () => {
  const errorOf = (result: TrpcResult) => ({ status: result.status, code: result.body?.error?.data?.code });

  test("error: a file over UPLOAD_MAX_BYTES is 413 with its size; a far larger body is 413 before it is read", async () => {
    const max = api.deps.config.uploadMaxBytes;
    const justOver = new Uint8Array(max + 1);
    justOver.set(pdfBytes("padding"));
    const result = await verifyDocument(pdf(justOver));
    expect(errorOf(result)).toEqual({ status: 413, code: "PAYLOAD_TOO_LARGE" });
    expect(result.body.error.message).toMatch(/over the 10 MiB limit/);

    const body = new FormData();
    body.append("document", pdf(new Uint8Array(max + 512 * 1024)));
    const response = await api.app.request("/trpc/certificates.verifyDocument", { method: "POST", body });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: { code: "PAYLOAD_TOO_LARGE", message: "Documents are limited to 10 MiB" },
    });
  });

  test("behavior: only the upload paths take bodies over the 1 MiB JSON limit; a batch never does", async () => {
    const twoMiB = new Uint8Array(2 * 1024 * 1024);
    twoMiB.set(pdfBytes("two mebibytes"));
    expect(dataOf(await verifyDocument(pdf(twoMiB))).size).toBe(twoMiB.length);
    for (const path of ["/trpc/certificates.verifyDocument,certificates.verifyDocument?batch=1", "/trpc/auth.login"]) {
      const body = new FormData();
      body.append("document", pdf(twoMiB));
      const response = await api.app.request(path, { method: "POST", body });
      expect(response.status, path).toBe(413);
      expect(await response.text()).toMatch(/Request bodies are limited to 1048576 bytes/);
    }
  });

  test("error: an HTML page is 415 even when sent as a PDF, and so is a file of an unknown type", async () => {
    const page = new File(["<!doctype html><script>alert(1)</script>"], "diploma.pdf", { type: "application/pdf" });
    const html = await verifyDocument(page);
    expect(errorOf(html)).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
    expect(html.body.error.message).toMatch(/The file is HTML, which is not accepted/);
    const unknown = await verifyDocument(new File([new Uint8Array([1, 2, 3])], "x.bin"));
    expect(errorOf(unknown)).toEqual({ status: 415, code: "UNSUPPORTED_MEDIA_TYPE" });
  });

  test("error: no file, text in place of a file, a bad certificate number or a JSON body is 400", async () => {
    expect(errorOf(await verifyDocument("just text"))).toEqual({ status: 400, code: "BAD_REQUEST" });
    for (const tokenId of ["abc", "0", "-1", "1.5", "99999999999999999999"]) {
      expect(errorOf(await verifyDocument(pdf(diploma.bytes), tokenId)), tokenId).toEqual({
        status: 400,
        code: "BAD_REQUEST",
      });
    }
    const twice = new FormData();
    twice.append("document", pdf(diploma.bytes));
    twice.append("document", pdf(diploma.bytes));
    const response = await api.app.request("/trpc/certificates.verifyDocument", { method: "POST", body: twice });
    expect(response.status).toBe(400);
    const json = await api.mutation("certificates.verifyDocument", { tokenId: diploma.tokenId });
    expect(errorOf(json)).toEqual({ status: 400, code: "BAD_REQUEST" });
    expect(JSON.stringify(json.body.error.data.fieldErrors)).toMatch(/must be a file/);
    // A read, never a query string: tRPC refuses multipart on GET.
    expect((await api.app.request("/trpc/certificates.verifyDocument")).status).toBe(405);
  });
});
