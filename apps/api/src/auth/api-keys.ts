import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { Config } from "@certchain/common";
import { apiKeys, type Db, users } from "@certchain/db";
import { decryptApiKeySecret, encryptApiKeySecret } from "@certchain/queue";
import { encodeBase32LowerCaseNoPadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { ApiKeyScope } from "./api-key-scopes.ts";
import { type SessionUser, sessionUserColumns } from "./sessions.ts";

/**
 * API keys for server-to-server clients. A key is a public id (`ck_…`) and a secret (`cks_…`) shown once, at
 * creation. Each request is signed, not sent with the secret: HMAC-SHA256 under the secret over
 *
 *     METHOD \n PATH-WITH-QUERY \n TIMESTAMP \n NONCE \n hex SHA-256 of the body
 *
 * in the headers below (`http/signatures.ts` checks them). The server keeps the secret encrypted under `MASTER_KEY`
 * to recompute the HMAC; `@certchain/client` signs with `apiKey: { id, secret }`.
 */
export const API_KEY_HEADER = "x-certchain-key";
export const SIGNATURE_TIMESTAMP_HEADER = "x-certchain-timestamp";
export const SIGNATURE_NONCE_HEADER = "x-certchain-nonce";
export const SIGNATURE_HEADER = "x-certchain-signature";

/** 12 random bytes = 96 bits as 20 base32 characters: unique, not secret. */
const KEY_ID_BYTES = 12;
/** 32 random bytes = 256 bits, HMAC-SHA256's full strength. */
const SECRET_BYTES = 32;
/** `last_used_at` is written at most this often per key, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export const KEY_ID_PATTERN = /^ck_[a-z2-7]{20}$/;

/** A key that signed a request: whom it acts as, and what it may call. */
export type ApiKeyCaller = { keyId: string; scopes: readonly string[]; user: SessionUser };

export function generateApiKeyCredentials(): { keyId: string; secret: string } {
  const random = (bytes: number) => crypto.getRandomValues(new Uint8Array(bytes));
  return {
    keyId: `ck_${encodeBase32LowerCaseNoPadding(random(KEY_ID_BYTES))}`,
    secret: `cks_${encodeBase64urlNoPadding(random(SECRET_BYTES))}`,
  };
}

/** Creates a key for `userId` and returns its id and secret: the only time the secret leaves the server. */
export async function createApiKey(
  db: Db,
  config: Pick<Config, "masterKey" | "masterKeyVersion">,
  key: { userId: number; createdByUserId: number; name: string; scopes: readonly ApiKeyScope[] },
): Promise<{ keyId: string; secret: string }> {
  const { keyId, secret } = generateApiKeyCredentials();
  await db.insert(apiKeys).values({
    keyId,
    userId: key.userId,
    createdByUserId: key.createdByUserId,
    name: key.name,
    scopes: [...new Set(key.scopes)],
    ...encryptApiKeySecret(secret, keyId, config.masterKey, config.masterKeyVersion),
  });
  return { keyId, secret };
}

/** The key row a signature is checked against, with its owner; never returned by any procedure. */
export async function findApiKey(db: Db, keyId: string) {
  if (!KEY_ID_PATTERN.test(keyId)) return undefined;
  const [row] = await db
    .select({
      keyId: apiKeys.keyId,
      scopes: apiKeys.scopes,
      encryptedSecret: apiKeys.encryptedSecret,
      iv: apiKeys.iv,
      authTag: apiKeys.authTag,
      keyVersion: apiKeys.keyVersion,
      revokedAt: apiKeys.revokedAt,
      lastUsedAt: apiKeys.lastUsedAt,
      user: sessionUserColumns,
    })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.keyId, keyId))
    .limit(1);
  return row;
}

export type StoredApiKey = NonNullable<Awaited<ReturnType<typeof findApiKey>>>;

/** The key's secret, decrypted with the configured master keys (throws `ApiKeySecretError` naming the key). */
export function apiKeySecret(row: StoredApiKey, config: Pick<Config, "masterKeys">): string {
  return decryptApiKeySecret(row, config.masterKeys);
}

/** Records that the key was used, about once a minute at most. */
export async function touchApiKey(db: Db, row: StoredApiKey, now = new Date()): Promise<void> {
  if (row.lastUsedAt && now.getTime() - row.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
  const stale = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.keyId, row.keyId), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, stale))));
}

/** The string a request's signature covers. */
export function canonicalRequest(request: {
  method: string;
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array;
}): string {
  const bodyHash = createHash("sha256").update(request.body).digest("hex");
  return [request.method.toUpperCase(), request.pathWithQuery, request.timestamp, request.nonce, bodyHash].join("\n");
}

/** Compares a hex signature with the HMAC of `canonical` under `secret`, in constant time. */
export function signatureMatches(secret: string, canonical: string, signatureHex: string): boolean {
  const expected = createHmac("sha256", secret).update(canonical).digest();
  const given = Buffer.from(signatureHex, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
