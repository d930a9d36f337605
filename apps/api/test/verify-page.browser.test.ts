import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, repoRoot } from "@certchain/common";
import { certificateRegistryAbi } from "@certchain/contracts";
import { type ServerType, serve } from "@hono/node-server";
import { type Browser, chromium } from "playwright-core";
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type CertifiedDocument, certificateFixtures, pdfBytes } from "./certificate-fixtures.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

/** Debian's chromium (apt-get install chromium); CI installs it, so there the test never skips. */
const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(repoRoot, "test-results");
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing; .ci/run installs it`);

describe.skipIf(!haveBrowser)("verification page in headless Chromium", () => {
  let api: TestApi;
  let server: ServerType;
  let baseUrl: string;
  let browser: Browser;
  /** Certificate 2: a certified document, for the document form. */
  let diploma: CertifiedDocument;

  beforeAll(async () => {
    api = await createTestApi();
    const transport = http(api.anvil.rpcUrl);
    const operator = createWalletClient({
      chain: foundry,
      transport,
      account: privateKeyToAccount(ANVIL_ACCOUNT_0_PRIVATE_KEY),
    });
    const hash = await operator.writeContract({
      address: api.deployment.contracts.CertificateRegistry.address,
      abi: certificateRegistryAbi,
      functionName: "issue",
      args: ["0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "bafkreibrowsertest", 0n],
    });
    await createPublicClient({ chain: foundry, transport, pollingInterval: 50 }).waitForTransactionReceipt({ hash });
    diploma = await certificateFixtures(api).certifyDocument(pdfBytes("diploma checked in a browser"));
    server = serve({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await api?.close();
  });

  test("default: a person enters a token id, presses Verify and reads the verdict", async () => {
    const page = await browser.newPage({ javaScriptEnabled: false });
    await page.goto(`${baseUrl}/verify`);
    await page.getByLabel("Certificate number (token id)").fill("1");
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL(`${baseUrl}/verify/1`);
    await expect(page.getByRole("status").textContent()).resolves.toContain("Valid certificate");
    await expect(page.locator("dd").first().textContent()).resolves.toMatch(/^0x[0-9a-f]{40}$/);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "verify-page.png"), fullPage: true });
  });

  test("behavior: an unknown number reads as unknown, in words", async () => {
    const page = await browser.newPage({ javaScriptEnabled: false });
    const response = await page.goto(`${baseUrl}/verify/77`);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("status").textContent()).resolves.toContain("Unknown: no certificate has this number");
  });

  test("default: a person uploads the certified document and reads that it matches", async () => {
    const page = await browser.newPage({ javaScriptEnabled: false });
    await page.goto(`${baseUrl}/verify`);
    await page
      .getByLabel("Document", { exact: true })
      .setInputFiles({ name: "diploma.pdf", mimeType: "application/pdf", buffer: Buffer.from(diploma.bytes) });
    await page.getByRole("button", { name: "Check document" }).click();
    await page.waitForURL(`${baseUrl}/verify/document`);
    await expect(page.getByRole("status").textContent()).resolves.toBe(
      `Valid: this document matches certificate ${diploma.tokenId}`,
    );
    await expect(page.getByRole("link", { name: `ipfs://${diploma.documentCid}` }).count()).resolves.toBe(1);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "verify-document.png"), fullPage: true });
  });

  test("behavior: an altered copy checked against its certificate's number does not match", async () => {
    const page = await browser.newPage({ javaScriptEnabled: false });
    await page.goto(`${baseUrl}/verify`);
    const altered = Buffer.from(diploma.bytes);
    altered[altered.length - 2] = "X".charCodeAt(0);
    await page
      .getByLabel("Document", { exact: true })
      .setInputFiles({ name: "diploma.pdf", mimeType: "application/pdf", buffer: altered });
    await page.getByLabel("Certificate number (optional)").fill(String(diploma.tokenId));
    await page.getByRole("button", { name: "Check document" }).click();
    await page.waitForURL(`${baseUrl}/verify/document`);
    await expect(page.getByRole("status").textContent()).resolves.toContain(
      `No match: this document does not match certificate ${diploma.tokenId}`,
    );
  });
});
