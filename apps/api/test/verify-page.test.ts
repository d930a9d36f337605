import { ANVIL_ACCOUNT_0_PRIVATE_KEY } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { storeCertificateMetadata } from "@certchain/storage";
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
let metadataCid: string;
let documentCid: string;
const holder = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

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
