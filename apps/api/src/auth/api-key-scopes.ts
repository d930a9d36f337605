import type { ProcedurePath } from "../http/rest.ts";

/**
 * What an API key may call, by procedure group. A signed request acts as the key's owner, so the owner's role still
 * applies on top (a `certificates:write` key of a plain user cannot issue); the scopes only narrow it.
 */
export const API_KEY_SCOPES = ["read", "certificates:write", "market:write", "account:write", "admin"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/**
 * The scope each procedure needs when called with an API key; `null`: never with a key (signing in and out, linking
 * wallets, managing API keys: those need a person's session). Typed over every procedure, so a new one does not
 * compile until someone decides here.
 */
const procedureScopes = {
  "auth.register": null,
  "auth.login": null,
  "auth.logout": null,
  "auth.logoutAll": null,
  "auth.profile": "read",
  "auth.siweNonce": null,
  "auth.siweVerify": null,
  "certificates.get": "read",
  "certificates.list": "read",
  "certificates.verify": "read",
  "certificates.verifyDocument": "read",
  "certificates.create": "certificates:write",
  "certificates.invalidate": "certificates:write",
  "market.listings": "read",
  "market.list": "market:write",
  "market.buy": "market:write",
  "market.cancel": "market:write",
  "market.withdraw": "market:write",
  "account.balance": "read",
  "account.transactions": "read",
  "account.transfer": "account:write",
  "tx.status": "read",
  "tx.onStatus": "read",
  "admin.grantIssuer": "admin",
  "admin.revokeIssuer": "admin",
  "admin.createApiKey": null,
  "admin.listApiKeys": null,
  "admin.revokeApiKey": null,
} as const satisfies Record<ProcedurePath, ApiKeyScope | null>;

/** Why a key may not call `path`, or undefined when its scopes allow it. Unknown paths are refused. */
export function apiKeyScopeRefusal(keyId: string, scopes: readonly string[], path: string): string | undefined {
  const needed: ApiKeyScope | null | undefined = (procedureScopes as Record<string, ApiKeyScope | null>)[path];
  if (!needed) return `${path} cannot be called with an API key (it needs a signed-in session)`;
  if (!scopes.includes(needed)) return `API key ${keyId} lacks the scope "${needed}" that ${path} needs`;
  return undefined;
}
