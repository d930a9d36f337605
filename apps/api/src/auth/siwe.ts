import { randomBytes } from "node:crypto";
import type { Config } from "@certchain/common";
import type { Redis } from "ioredis";
import type { SiweMessage } from "viem/siwe";

/** A nonce is good for this long after it is handed out, and for one attempt (EIP-4361: one per sign-in). */
export const SIWE_NONCE_TTL_SECONDS = 5 * 60;
/** 128 random bits, hex: alphanumeric as EIP-4361 requires, and far beyond guessing. */
const NONCE_BYTES = 16;

/** What a message must name to sign in here: derived from our configuration, never from the message itself. */
export type SiweExpectations = {
  /** RFC 3986 authority (`host[:port]`) of API_PUBLIC_URL. */
  domain: string;
  /** Origin the message's URI must be on. */
  origin: string;
  /** `https` or `http`, for messages that state their scheme. */
  scheme: string;
  chainId: number;
};

export function siweExpectations(config: Pick<Config, "apiPublicUrl" | "chainId">): SiweExpectations {
  const publicUrl = new URL(config.apiPublicUrl);
  return {
    domain: publicUrl.host,
    origin: publicUrl.origin,
    scheme: publicUrl.protocol.slice(0, -1),
    chainId: config.chainId,
  };
}

const nonceKey = (redisPrefix: string, nonce: string) => `${redisPrefix}:siwe-nonce:${nonce}`;

/**
 * A fresh nonce, remembered in Redis until it is used or expires. From the CSPRNG: viem's `generateSiweNonce` uses
 * `Math.random()` and must not be used for this.
 */
export async function issueSiweNonce(
  redis: Redis,
  redisPrefix: string,
  now = new Date(),
): Promise<{ nonce: string; expiresAt: Date }> {
  const nonce = randomBytes(NONCE_BYTES).toString("hex");
  await redis.set(nonceKey(redisPrefix, nonce), "1", "EX", SIWE_NONCE_TTL_SECONDS, "NX");
  return { nonce, expiresAt: new Date(now.getTime() + SIWE_NONCE_TTL_SECONDS * 1000) };
}

/**
 * Takes the nonce out of Redis in one step (GETDEL), so of two concurrent attempts with it at most one sees it.
 * False when it was never issued, is used, or has expired.
 */
export async function consumeSiweNonce(redis: Redis, redisPrefix: string, nonce: string): Promise<boolean> {
  return (await redis.getdel(nonceKey(redisPrefix, nonce))) !== null;
}

/** Fields without which a text is not a Sign-In with Ethereum message at all. */
export type CompleteSiweMessage = Partial<SiweMessage> &
  Pick<SiweMessage, "address" | "domain" | "uri" | "version" | "chainId" | "nonce" | "issuedAt">;

export function isCompleteSiweMessage(fields: Partial<SiweMessage>): fields is CompleteSiweMessage {
  return Boolean(
    fields.address &&
      fields.domain &&
      fields.uri &&
      fields.version &&
      fields.chainId !== undefined &&
      fields.nonce &&
      fields.issuedAt,
  );
}

/**
 * Why this message cannot sign in here (one sentence for the client), or null when its domain, URI, scheme, chain
 * and validity window are all right. The signature is checked separately.
 */
export function siweMessageProblem(fields: CompleteSiweMessage, expected: SiweExpectations, now: Date): string | null {
  if (fields.domain !== expected.domain) return `The message is for ${fields.domain}, not ${expected.domain}`;
  if (originOf(fields.uri) !== expected.origin) return `The message's URI ${fields.uri} is not on ${expected.origin}`;
  if (fields.scheme !== undefined && fields.scheme !== expected.scheme) {
    return `The message's scheme ${fields.scheme} is not ${expected.scheme}`;
  }
  if (fields.version !== "1") return `Version ${fields.version} is not EIP-4361 version 1`;
  if (fields.chainId !== expected.chainId) {
    return `The message is for chain ${fields.chainId}, but this API signs in on chain ${expected.chainId}`;
  }
  for (const [name, date] of [
    ["Issued At", fields.issuedAt],
    ["Expiration Time", fields.expirationTime],
    ["Not Before", fields.notBefore],
  ] as const) {
    if (date && Number.isNaN(date.getTime())) return `${name} is not an RFC 3339 date-time`;
  }
  if (fields.expirationTime && now >= fields.expirationTime) {
    return `The message expired at ${fields.expirationTime.toISOString()}`;
  }
  if (fields.notBefore && now < fields.notBefore) {
    return `The message is not valid before ${fields.notBefore.toISOString()}`;
  }
  return null;
}

function originOf(uri: string): string | null {
  try {
    return new URL(uri).origin;
  } catch {
    return null;
  }
}
