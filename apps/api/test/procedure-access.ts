/**
 * Who may call each procedure, and a harmless input for it. The authorization matrix checks that every procedure of
 * the router is listed; the bad-input suite uses the level to call each one with a session that passes its checks.
 */
export type Level = "public" | "user" | "issuer" | "admin";
export type Kind = "query" | "mutation";
export const access: Record<string, { level: Level; kind: Kind; input?: unknown }> = {
  "auth.register": { level: "public", kind: "mutation", input: { username: "x", email: "bad", password: "" } },
  "auth.login": { level: "public", kind: "mutation", input: { login: "matrix_user", password: "long enough pw" } },
  "auth.logout": { level: "user", kind: "mutation" },
  "auth.logoutAll": { level: "user", kind: "mutation" },
  "auth.profile": { level: "user", kind: "query" },
  "certificates.get": { level: "public", kind: "query", input: { tokenId: 1 } },
  "certificates.list": { level: "public", kind: "query", input: {} },
  "certificates.verify": { level: "public", kind: "query", input: { tokenId: 1 } },
  "market.listings": { level: "public", kind: "query", input: {} },
  "account.transactions": { level: "user", kind: "query" },
  "account.balance": { level: "user", kind: "query" },
  // Issuer-or-admin of that certificate: the object-level rule is tested in transactions.test.ts.
  "certificates.invalidate": {
    level: "user",
    kind: "mutation",
    input: { tokenId: 424242, reason: "matrix", idempotencyKey: "matrix-invalidate" },
  },
  "tx.status": { level: "user", kind: "query", input: { requestId: "0190c5b2-7d2e-7000-8000-000000000000" } },
  "admin.grantIssuer": { level: "admin", kind: "mutation", input: { userId: 424242, idempotencyKey: "matrix-grant" } },
  "admin.revokeIssuer": {
    level: "admin",
    kind: "mutation",
    input: { userId: 424242, idempotencyKey: "matrix-revoke" },
  },
};
