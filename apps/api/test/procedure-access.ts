/**
 * Who may call each procedure, and a harmless input for it. The authorization matrix checks that every procedure of
 * the router is listed; the bad-input suite uses the level to call each one with a session that passes its checks.
 */
export type Level = "public" | "user" | "issuer" | "admin";
/** Subscriptions are called like queries (GET); the test client reads their SSE stream's first event. */
export type Kind = "query" | "mutation" | "subscription";
export const access: Record<string, { level: Level; kind: Kind; input?: unknown }> = {
  "auth.register": { level: "public", kind: "mutation", input: { username: "x", email: "bad", password: "" } },
  "auth.login": { level: "public", kind: "mutation", input: { login: "matrix_user", password: "long enough pw" } },
  "auth.logout": { level: "user", kind: "mutation" },
  "auth.logoutAll": { level: "user", kind: "mutation" },
  "auth.profile": { level: "user", kind: "query" },
  "auth.siweNonce": { level: "public", kind: "mutation" },
  // Not a sign-in message: refused as BAD_REQUEST before any nonce or signature check (siwe.test.ts covers those).
  "auth.siweVerify": {
    level: "public",
    kind: "mutation",
    input: { message: "matrix: not a sign-in message", signature: `0x${"00".repeat(65)}` },
  },
  "certificates.get": { level: "public", kind: "query", input: { tokenId: 1 } },
  "certificates.list": { level: "public", kind: "query", input: {} },
  "certificates.verify": { level: "public", kind: "query", input: { tokenId: 1 } },
  // Takes multipart (a file); as JSON it is refused with 400 after the access check. Uploads: verify-document.test.ts.
  "certificates.verifyDocument": { level: "public", kind: "mutation", input: { tokenId: 1 } },
  "market.listings": { level: "public", kind: "query", input: {} },
  "account.transactions": { level: "user", kind: "query" },
  "account.balance": { level: "user", kind: "query" },
  // Issuer-or-admin of that certificate: the object-level rule is tested in transactions.test.ts.
  "certificates.invalidate": {
    level: "user",
    kind: "mutation",
    input: { tokenId: 424242, reason: "matrix", idempotencyKey: "matrix-invalidate" },
  },
  "certificates.create": {
    level: "issuer",
    kind: "mutation",
    input: { recipientUserId: 424242, name: "Matrix", documentCid: "bafkqaaa", idempotencyKey: "matrix-create" },
  },
  // Owner of the token or listing: object-level rules are tested in market.test.ts.
  "market.list": {
    level: "user",
    kind: "mutation",
    input: { tokenId: 424242, price: "1", currency: "eth", idempotencyKey: "matrix-list" },
  },
  "market.buy": {
    level: "user",
    kind: "mutation",
    input: { listingId: 424242, expectedPrice: "1", idempotencyKey: "matrix-buy" },
  },
  "market.withdraw": { level: "user", kind: "mutation", input: { currency: "eth", idempotencyKey: "matrix-withdraw" } },
  "market.cancel": { level: "user", kind: "mutation", input: { listingId: 424242, idempotencyKey: "matrix-cancel" } },
  "account.transfer": {
    level: "user",
    kind: "mutation",
    input: { to: "nobody_by_that_name", currency: "eth", amount: "1", idempotencyKey: "matrix-transfer" },
  },
  "tx.status": { level: "user", kind: "query", input: { requestId: "0190c5b2-7d2e-7000-8000-000000000000" } },
  "tx.onStatus": {
    level: "user",
    kind: "subscription",
    input: { requestId: "0190c5b2-7d2e-7000-8000-000000000000" },
  },
  "admin.grantIssuer": { level: "admin", kind: "mutation", input: { userId: 424242, idempotencyKey: "matrix-grant" } },
  "admin.revokeIssuer": {
    level: "admin",
    kind: "mutation",
    input: { userId: 424242, idempotencyKey: "matrix-revoke" },
  },
  // No such user or key: refused with 404 after the access check. API keys themselves: api-keys.test.ts.
  "admin.createApiKey": {
    level: "admin",
    kind: "mutation",
    input: { name: "matrix", scopes: ["read"], userId: 424242 },
  },
  "admin.listApiKeys": { level: "admin", kind: "query", input: {} },
  "admin.revokeApiKey": { level: "admin", kind: "mutation", input: { keyId: "ck_aaaaaaaaaaaaaaaaaaaa" } },
};
