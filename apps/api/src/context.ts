import type { Config, Logger } from "@certchain/common";
import type { Deployment } from "@certchain/contracts";
import type { Db, DbHandle } from "@certchain/db";
import type { TxRequestProducer } from "@certchain/queue";
import type { ContentStore } from "@certchain/storage";
import type { Redis } from "ioredis";
import type { PublicClient } from "viem";
import type { ApiKeyCaller } from "./auth/api-keys.ts";
import { expiredSessionCookie, readSessionCredentials, sessionCookie } from "./auth/credentials.ts";
import { type ValidatedSession, validateSessionToken } from "./auth/sessions.ts";
import type { ReadCaches } from "./cache.ts";
import type { BalanceReader } from "./chain/balances.ts";
import type { HeadReader } from "./chain/head.ts";
import type { Limits } from "./http/rate-limit.ts";
import type { TxStatusFeed } from "./tx-status-feed.ts";

/** Everything the API's procedures use, built once by `main.ts` (or by a test) and passed down. */
export type ApiDeps = {
  config: Config;
  db: Db;
  logger: Logger;
  /** The chain's latest block number (for confirmations), briefly cached. */
  head: HeadReader;
  /** Reads from the chain itself, for answers that must not rely on the indexer (verification, balances). */
  chain: { client: PublicClient; contracts: Deployment["contracts"] };
  /** Certificate documents and metadata, addressed by IPFS CID. */
  storage: ContentStore;
  /** One line per request (the access channel of the logs). */
  accessLogger: Logger;
  /** Records outgoing transactions and queues them for the relayer; the API never signs anything itself. */
  producer: TxRequestProducer;
  balances: BalanceReader;
  /** Rate limits and brute-force guards, shared by every API process through Redis. */
  limits: Limits;
  /** The platform operator's wallet: holds the registry's admin role, signs admin actions. */
  operatorAddress: `0x${string}`;
  /** The API's Redis connection (the queue's): short-lived keys such as sign-in nonces, under `config.redisPrefix`. */
  redis: Redis;
  /** Status changes the relayer publishes, fanned out to `tx.onStatus` streams. */
  txStatus: TxStatusFeed;
  /** Hot reads (`certificates.get`, first pages of `market.listings`, balances) in memory and Redis; see `cache.ts`. */
  cache: ReadCaches;
  /** The pool behind `db`, when the caller shares it, for the pool gauges on `/metrics`. */
  pool?: Pick<DbHandle, "poolStats">;
};

export type RequestMeta = {
  ip: string | undefined;
  userAgent: string | undefined;
  /** The `Idempotency-Key` header, for mutations whose input leaves the key out. */
  idempotencyKey: string | undefined;
  /** This request's id (`X-Request-Id`), quoted in internal-error answers so a report can be matched to the log. */
  requestId: string | undefined;
};

export type Context = {
  deps: ApiDeps;
  meta: RequestMeta;
  /** The caller's session, or null for anonymous calls and signed ones. */
  session: ValidatedSession | null;
  /** The API key a signed request was verified with (`http/signatures.ts`), acting as its owner; else null. */
  apiKey: ApiKeyCaller | null;
  /** Headers added to the response (`Set-Cookie` on login, renewal and logout). */
  resHeaders: Headers;
};

/**
 * The context without any HTTP: what tests pass to `createCaller`. `session` is already validated.
 */
export function createContextInner(
  deps: ApiDeps,
  options: {
    session?: ValidatedSession | null;
    apiKey?: ApiKeyCaller | null;
    meta?: Partial<RequestMeta>;
    resHeaders?: Headers;
  } = {},
): Context {
  return {
    deps,
    session: options.session ?? null,
    apiKey: options.apiKey ?? null,
    meta: {
      ip: options.meta?.ip,
      userAgent: options.meta?.userAgent,
      idempotencyKey: options.meta?.idempotencyKey,
      requestId: options.meta?.requestId,
    },
    resHeaders: options.resHeaders ?? new Headers(),
  };
}

/**
 * The context for an HTTP request: resolves the bearer token or session cookie. A renewed session re-sends the cookie
 * with its new expiry; a cookie naming no live session is cleared, so the browser stops sending it. A signed request
 * comes with the API key its signature was checked against, and no session.
 */
export async function createRequestContext(
  deps: ApiDeps,
  request: { headers: Headers; ip: string | undefined; requestId?: string | undefined; apiKey?: ApiKeyCaller },
  resHeaders: Headers,
): Promise<Context> {
  const credentials = readSessionCredentials(request.headers);
  const session = credentials ? await validateSessionToken(deps.db, credentials.token) : null;
  if (credentials?.via === "cookie") {
    if (session === null) resHeaders.append("set-cookie", expiredSessionCookie());
    else if (session.renewed) resHeaders.append("set-cookie", sessionCookie(credentials.token, session.expiresAt));
  }
  return createContextInner(deps, {
    session,
    apiKey: request.apiKey,
    meta: {
      ip: request.ip,
      userAgent: request.headers.get("user-agent") ?? undefined,
      idempotencyKey: request.headers.get("idempotency-key") ?? undefined,
      requestId: request.requestId,
    },
    resHeaders,
  });
}
