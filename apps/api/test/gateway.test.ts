import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
/** Sample files; the store keeps whatever type it is given (checking uploads is the API's job before `put`). */
const pdf = new TextEncoder().encode("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
const html = new TextEncoder().encode("<!doctype html><script>alert(document.cookie)</script>");
const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
const cids: Record<string, string> = {};

beforeAll(async () => {
  api = await createTestApi();
  // The store itself accepts any type; upload checks are the API's job before it ever calls `put`.
  cids.pdf = (await api.deps.storage.put(pdf, "application/pdf")).cid;
  cids.html = (await api.deps.storage.put(html, "text/html")).cid;
  cids.svg = (await api.deps.storage.put(svg, "image/svg+xml")).cid;
  cids.big = (await api.deps.storage.put(big, "application/pdf")).cid;
});
afterAll(() => api.close());

const get = (path: string, headers: Record<string, string> = {}) => api.app.request(path, { headers });

describe("GET /ipfs/:cid", () => {
  test("default: streams the content with its type, immutable caching and the CID as ETag", async () => {
    const response = await get(`/ipfs/${cids.pdf}`);
    expect(response.status).toBe(200);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(pdf);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "content-type": "application/pdf",
      "cache-control": "public, max-age=31536000, immutable",
      etag: `"${cids.pdf}"`,
      "x-content-type-options": "nosniff",
      "content-disposition": "inline",
      "content-length": String(pdf.length),
    });
  });

  test.each(["html", "svg"])(
    "behavior: an uploaded %s file is never served inline and cannot run script",
    async (kind) => {
      const response = await get(`/ipfs/${cids[kind]}`);
      expect(response.headers.get("content-disposition")).toMatch(/^attachment/);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("content-security-policy")).toContain("sandbox");
    },
  );

  test("behavior: a range request returns 206 with exactly those bytes, across chunk boundaries", async () => {
    const start = 256 * 1024 - 10;
    const response = await get(`/ipfs/${cids.big}`, { range: `bytes=${start}-${start + 19}` });
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe(`bytes ${start}-${start + 19}/${big.length}`);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(big.slice(start, start + 20));
    const suffix = await get(`/ipfs/${cids.big}`, { range: "bytes=-5" });
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(big.slice(-5));
  });

  test("behavior: an unsatisfiable range is 416 with the size; If-None-Match gives 304", async () => {
    const response = await get(`/ipfs/${cids.pdf}`, { range: "bytes=99999-" });
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe(`bytes */${pdf.length}`);
    expect((await get(`/ipfs/${cids.pdf}`, { "if-none-match": `"${cids.pdf}"` })).status).toBe(304);
  });

  test("error: unknown CIDs are 404 and malformed ones 400, each with a message", async () => {
    const unknown = await get("/ipfs/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
    expect(unknown.status).toBe(404);
    const malformed = await get("/ipfs/not-a-cid");
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toMatch(/CID/i);
  });
});
