/**
 * Request signing for API keys (server-to-server clients), with WebCrypto only, so it runs in Node and elsewhere.
 * Every request carries the key id, a timestamp (Unix seconds), a fresh nonce and an HMAC-SHA256 under the key's
 * secret over
 *
 *     METHOD \n PATH-WITH-QUERY \n TIMESTAMP \n NONCE \n hex SHA-256 of the body
 *
 * The server accepts a timestamp within 5 minutes of its clock and each nonce once.
 */

/** An API key as `admin.createApiKey` returns it: the public id (`ck_…`) and the secret (`cks_…`). */
export type ApiKeyCredentials = { id: string; secret: string };

const encoder = new TextEncoder();
const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

/** The string a signature covers (the server builds the same one from what it receives). */
export async function canonicalRequest(request: {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array;
}): Promise<string> {
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", request.body));
  return [request.method.toUpperCase(), request.pathWithQuery, request.timestamp, request.nonce, bodyHash].join("\n");
}

/** The `X-Certchain-*` headers for one request. */
export async function signatureHeaders(
  apiKey: ApiKeyCredentials,
  request: { method: string; url: string; body: Uint8Array },
  options: { timestamp?: number; nonce?: string } = {},
): Promise<Record<string, string>> {
  const url = new URL(request.url);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? crypto.randomUUID();
  const canonical = await canonicalRequest({
    method: request.method,
    pathWithQuery: url.pathname + url.search,
    timestamp,
    nonce,
    body: request.body,
  });
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(apiKey.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = hex(await crypto.subtle.sign("HMAC", key, encoder.encode(canonical)));
  return {
    "x-certchain-key": apiKey.id,
    "x-certchain-timestamp": timestamp,
    "x-certchain-nonce": nonce,
    "x-certchain-signature": signature,
  };
}

/**
 * A `fetch` that signs every request with `apiKey`. The body is serialized first (a `FormData` becomes its multipart
 * bytes with their boundary), hashed, and sent as exactly those bytes.
 */
export function signingFetch(apiKey: ApiKeyCredentials, baseFetch: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? new Uint8Array()
        : new Uint8Array(await request.arrayBuffer());
    const headers = new Headers(request.headers);
    for (const [name, value] of Object.entries(
      await signatureHeaders(apiKey, { method: request.method, url: request.url, body }),
    ))
      headers.set(name, value);
    return baseFetch(request.url, {
      ...init,
      method: request.method,
      headers,
      body: body.byteLength > 0 ? body : undefined,
      signal: request.signal,
    });
  };
}
