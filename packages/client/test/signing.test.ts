import { createHash, createHmac } from "node:crypto";
import { expect, test } from "vitest";
import { signatureHeaders, signingFetch } from "../src/signing.ts";

/**
 * The signing scheme as a server would check it, recomputed here with node:crypto: HMAC-SHA256 under the secret of
 * METHOD \n PATH-WITH-QUERY \n TIMESTAMP \n NONCE \n hex SHA-256 of the body. End to end against the API:
 * apps/api/test/api-keys.test.ts.
 */
const key = { id: "ck_aaaaaaaaaaaaaaaaaaaa", secret: "cks_known-secret" };

function expectedSignature(method: string, path: string, timestamp: string, nonce: string, body: Uint8Array) {
  const bodyHash = createHash("sha256").update(body).digest("hex");
  return createHmac("sha256", key.secret).update([method, path, timestamp, nonce, bodyHash].join("\n")).digest("hex");
}

test("default: the headers carry the key id, timestamp, nonce and the HMAC of the canonical request", async () => {
  const body = new TextEncoder().encode('{"tokenId":1}');
  const headers = await signatureHeaders(
    key,
    { method: "post", url: "http://api.example/trpc/certificates.get?batch=1&input=%7B%7D", body },
    { timestamp: 1_700_000_000, nonce: "0123456789abcdef" },
  );
  expect(headers).toEqual({
    "x-certchain-key": key.id,
    "x-certchain-timestamp": "1700000000",
    "x-certchain-nonce": "0123456789abcdef",
    "x-certchain-signature": expectedSignature(
      "POST",
      "/trpc/certificates.get?batch=1&input=%7B%7D",
      "1700000000",
      "0123456789abcdef",
      body,
    ),
  });
});

test("behavior: a FormData body is sent as exactly the multipart bytes that were signed, with their boundary", async () => {
  const sent: Request[] = [];
  const signed = signingFetch(key, async (input, init) => {
    sent.push(new Request(input, init));
    return new Response("{}");
  });
  const form = new FormData();
  form.append("name", "diploma");
  form.append("document", new File(["%PDF-1.7"], "d.pdf", { type: "application/pdf" }));
  await signed("http://api.example/trpc/certificates.create", { method: "POST", body: form });

  const [request] = sent;
  expect(request?.headers.get("content-type")).toMatch(/^multipart\/form-data; boundary=/);
  const bytes = new Uint8Array(await (request as Request).arrayBuffer());
  expect(new TextDecoder().decode(bytes)).toContain("%PDF-1.7");
  const headers = Object.fromEntries(request?.headers ?? []);
  expect(headers["x-certchain-signature"]).toBe(
    expectedSignature(
      "POST",
      "/trpc/certificates.create",
      headers["x-certchain-timestamp"] ?? "",
      headers["x-certchain-nonce"] ?? "",
      bytes,
    ),
  );
});
