import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { storeCertificateMetadata } from "@certchain/storage";
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CertifiedDocument, certificateFixtures, pdfBytes } from "./certificate-fixtures.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
let metadataCid: string;
let documentCid: string;
const holder = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
/** Certificate 3: a document certified and indexed, for the document form. */
let transcript: CertifiedDocument;

/** Issues and (for token 2) revokes with a reason containing markup, through the real registry. */
beforeAll(async () => {
  api = await createTestApi();
  const stored = await storeCertificateMetadata(api.deps.storage, {
    name: "BSc Computer Science",
    description: "Awarded with honours",
    issuer: { address: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", name: "Example University" },
    recipient: { name: "Alice Example", address: holder },
    issuedAt: new Date("2026-06-01T00:00:00Z"),
    expiresAt: null,
    document: { bytes: new TextEncoder().encode("%PDF-1.7\n%%EOF\n"), contentType: "application/pdf" },
  });
  metadataCid = stored.metadataCid;
  documentCid = stored.documentCid;
  const transport = http(api.anvil.rpcUrl);
  const client = createPublicClient({ chain: foundry, transport, pollingInterval: 50 });
  const operator = createWalletClient({
    chain: foundry,
    transport,
    account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
  });
  const registry = api.deployment.contracts.CertificateRegistry.address;
  for (const cid of [metadataCid, "bafkreirevokedcid"]) {
    const hash = await operator.writeContract({
      address: registry,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: [holder, cid, 0n],
    });
    await client.waitForTransactionReceipt({ hash });
  }
  const hash = await operator.writeContract({
    address: registry,
    abi: certificateRegistryAbi,
    functionName: "revoke",
    args: [2n, "<script>alert(1)</script>"],
  });
  await client.waitForTransactionReceipt({ hash });
  transcript = await certificateFixtures(api).certifyDocument(pdfBytes("transcript"));
});
afterAll(() => api.close());

describe("verification page", () => {
  test("default: the form works without JavaScript and the page forbids scripts", async () => {
    const response = await api.app.request("/verify");
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(html).toContain('<form method="get" action="/verify"');
    expect(html).toContain('<label for="tokenId">');
    expect(html).not.toContain("<script");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  test("behavior: submitting the form redirects to the certificate's page", async () => {
    const response = await api.app.request("/verify?tokenId=1");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/verify/1");
  });

  test("behavior: a valid certificate says so, with issuer, holder and links to metadata and document", async () => {
    const html = await (await api.app.request("/verify/1")).text();
    expect(html).toContain("Valid certificate");
    expect(html).toContain(holder);
    expect(html).toContain(`href="/ipfs/${metadataCid}"`);
    expect(html).toContain(`href="/ipfs/${documentCid}"`);
  });

  test("behavior: a revoked certificate says so, and its reason is escaped, never markup", async () => {
    const html = await (await api.app.request("/verify/2")).text();
    expect(html).toContain("Revoked: this certificate is no longer valid");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>alert(1)");
  });

  test("error: an unknown number is a 404 page in plain words; a malformed one a 400 with the form", async () => {
    const unknown = await api.app.request("/verify/424242");
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("Unknown: no certificate has this number");
    expect((await api.app.request("/verify/9999999999999999")).status).toBe(400);
    const malformed = await api.app.request("/verify/%3Cb%3E");
    expect(malformed.status).toBe(400);
    const html = await malformed.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('value="&lt;b&gt;"');
  });
});

describe("verification page: checking a document", () => {
  /** What a browser sends for the document form (multipart, the file input and the optional number). */
  async function checkDocument(document: File, tokenId = "") {
    const body = new FormData();
    body.append("document", document);
    body.append("tokenId", tokenId);
    const response = await api.app.request("/verify/document", { method: "POST", body });
    return { status: response.status, html: await response.text(), headers: response.headers };
  }
  const pdf = (bytes: Uint8Array, name = "transcript.pdf") => new File([bytes], name, { type: "application/pdf" });

  test("default: the page offers a multipart document form, labelled, next to the number form", async () => {
    const html = await (await api.app.request("/verify")).text();
    expect(html).toContain('<form method="post" action="/verify/document" enctype="multipart/form-data"');
    expect(html).toContain('<label for="document">Document</label>');
    expect(html).toContain('<label for="document-token-id">Certificate number (optional)</label>');
    expect(html).toContain("PDF, PNG, JPEG, JSON, at most 10 MiB");
  });

  test("behavior: the certified file is said to match, with the certificate's details and links", async () => {
    const { status, html, headers } = await checkDocument(pdf(transcript.bytes));
    expect(status).toBe(200);
    expect(headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(html).toMatch(/role="status"[^>]*>\s*<h2>Valid: this document matches certificate 3<\/h2>/);
    expect(html).toContain(holder);
    expect(html).toContain(`href="/ipfs/${transcript.metadataCid}"`);
    expect(html).toContain(`href="/ipfs/${transcript.documentCid}"`);
    expect(html).toContain('href="/verify/3"');
    expect(html).not.toContain("<script");
    // The same with the certificate's number given.
    expect((await checkDocument(pdf(transcript.bytes), "3")).html).toContain(
      "Valid: this document matches certificate 3",
    );
  });

  test("behavior: another certificate's number, or a file nobody certified, is said so in words", async () => {
    const other = await checkDocument(pdf(transcript.bytes), "1");
    expect(other.status).toBe(200);
    expect(other.html).toContain("No match: this document does not match certificate 1");
    const altered = transcript.bytes.slice();
    altered[altered.length - 2] = "X".charCodeAt(0);
    const unknown = await checkDocument(pdf(altered));
    expect(unknown.html).toContain("Unknown: no certificate names this document");
    expect((await checkDocument(pdf(transcript.bytes), "424242")).html).toContain(
      "Unknown: no certificate has number 424242",
    );
  });

  test("behavior: the file's name is shown escaped, never as markup", async () => {
    const { html } = await checkDocument(pdf(transcript.bytes, "<img src=x onerror=alert(1)>.pdf"));
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;.pdf");
    expect(html).not.toContain("<img src=x");
  });

  test("error: a refused upload shows the form again with the reason and 413, 415 or 400", async () => {
    const html = await checkDocument(new File(["<!doctype html><p>hi</p>"], "page.html", { type: "text/html" }), "3");
    expect(html.status).toBe(415);
    expect(html.html).toMatch(/<p id="document-error" role="alert">The file is HTML, which is not accepted;/);
    expect(html.html).toContain('aria-invalid="true"');
    expect(html.html).toContain('value="3"');

    const max = api.deps.config.uploadMaxBytes;
    const justOver = new Uint8Array(max + 1);
    justOver.set(transcript.bytes);
    const over = await checkDocument(pdf(justOver));
    expect(over.status).toBe(413);
    expect(over.html).toContain("over the 10 MiB limit");
    const farOver = await checkDocument(pdf(new Uint8Array(max + 512 * 1024)));
    expect(farOver.status).toBe(413);
    expect(farOver.html).toMatch(/role="alert">The file is over the 10 MiB limit\./);

    const empty = await checkDocument(new File([], ""));
    expect(empty.status).toBe(400);
    expect(empty.html).toContain("Choose the document to check.");
    const badNumber = await checkDocument(pdf(transcript.bytes), "<b>");
    expect(badNumber.status).toBe(400);
    expect(badNumber.html).toContain('value="&lt;b&gt;"');
  });

  test("behavior: reloading the answer's address leads back to the forms", async () => {
    const response = await api.app.request("/verify/document");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/verify");
  });
});
