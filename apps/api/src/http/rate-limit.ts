import { createHash } from "node:crypto";
import type { Config, Logger } from "@certchain/common";
import { TRPCError } from "@trpc/server";
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { readSessionCredentials } from "../auth/credentials.ts";
import { addressBucket, clientIp } from "./client-ip.ts";
import { refusal } from "./refusal.ts";
import { apiKeyOf } from "./signatures.ts";
import { trpcCallNames } from "./trpc-path.ts";

/** Counted against a client and refused with 429 and `Retry-After`. */
export class RateLimitedError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The limiter's Redis could not be asked; the caller decides whether that opens or closes the door. */
export class LimiterUnavailableError extends Error {}

export type Limits = {
  /** Every `/trpc`, `/api`, `/verify` and `/ipfs` request, per client IP and session; a tRPC batch counts each call. */
  requests: MiddlewareHandler;
  /**
   * Requests signed with an API key, per key, with the same budget as a session: a key used from many addresses is
   * still one client. Runs after the signature is verified, so nobody can spend another client's budget.
   */
  signedRequests: MiddlewareHandler;
  /**
   * Counts a sign-in attempt before its password is checked, so that attempts sent at once are counted at once.
   * Refused while the account has had too many from this IP, or ten times as many from all IPs together, or the IP
   * ten times as many on any accounts. `account` names the account the login resolved to (`user:<id>`), so every
   * spelling of one account counts together. Fails closed.
   */
  loginAttempt(account: string, ip: string | undefined): Promise<void>;
  /** After a correct password: the attempt is given back, and the account's failures from this IP are cleared. */
  loginSucceeded(account: string, ip: string | undefined): Promise<void>;
  /** Account creation and sign-in nonces, per IP. Fail closed: both write to storage an attacker could fill. */
  register(ip: string | undefined): Promise<void>;
  siweNonce(ip: string | undefined): Promise<void>;
  /** Resolves once the limiter's Redis connection is up (checks before that follow the outage policy). */
  ready(): Promise<void>;
  close(): Promise<void>;
};

const FIFTEEN_MINUTES = 15 * 60;
const HOUR = 60 * 60;
/** A budget check is one short script: Redis answers it in well under a millisecond when it answers at all. */
const LIMITER_COMMAND_TIMEOUT_MS = 500;

/** In-process requests (tests) have no peer address; they share one bucket. IPv6 clients count by their /64. */
const ipKey = (ip: string | undefined) => (ip === undefined ? "local" : addressBucket(ip));
/** Accounts are keyed by a digest, so Redis never holds the names people type (or mistype). */
const accountKey = (account: string) => createHash("sha256").update(account).digest("hex").slice(0, 32);
const accountFromIpKey = (account: string, ip: string | undefined) => `${accountKey(account)}:${ipKey(ip)}`;

/**
 * Limits backed by Redis, so every API process shares the counts. The limiter has its own connection with the offline
 * queue off: while Redis is unreachable a check fails at once instead of waiting, and the configured policy applies
 * (`RATE_LIMIT_WHEN_REDIS_DOWN` for ordinary requests; logins, registrations and nonces always refuse).
 */
export function createLimits(config: Config, logger: Logger): Limits {
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    // Every request checks its budget here: checks made in the same turn of the event loop share one write (and one
    // read) on the socket. Writing each check on its own took 6 % of the API's CPU under load; this, 1 %.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    // A Redis that stops answering without closing the connection (frozen, overloaded) must not hold every request:
    // a check with no answer by then fails, and the outage policy applies.
    commandTimeout: LIMITER_COMMAND_TIMEOUT_MS,
    // Keeps trying in the background; checks meanwhile fail fast.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  redis.on("error", () => {});
  const limiter = (name: string, points: number, duration: number, blockDuration = 0) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${config.redisPrefix}:rate:${name}`,
      points,
      duration,
      blockDuration,
      rejectIfRedisNotReady: true,
    });
  const perIp = limiter("ip", config.rateLimitPerMinute, 60);
  const perSession = limiter("session", config.rateLimitPerMinute, 60);
  const perApiKey = limiter("api-key", config.rateLimitPerMinute, 60);
  // Failed logins: an account waits after N from one address. From every address together it takes ten times as
  // many, so that nobody can lock an account for its owner with a few wrong passwords, while guessing spread over many
  // addresses is still bounded. An address waits after ten times N on any accounts in an hour.
  const loginByAccountFromIp = limiter(
    "login-account-ip",
    config.rateLimitLoginFailures,
    FIFTEEN_MINUTES,
    FIFTEEN_MINUTES,
  );
  const loginByAccount = limiter("login-account", config.rateLimitLoginFailures * 10, FIFTEEN_MINUTES, FIFTEEN_MINUTES);
  const loginByIp = limiter("login-ip", config.rateLimitLoginFailures * 10, HOUR, HOUR);
  const registerByIp = limiter("register-ip", config.rateLimitRegistrationsPerHour, HOUR);
  const nonceByIp = limiter("siwe-nonce-ip", config.rateLimitNoncesPerMinute, 60);

  let warnedAt = 0;
  /** Runs a limiter call: a refusal becomes `RateLimitedError`, a Redis failure `LimiterUnavailableError`. */
  async function attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof RateLimiterRes) {
        throw new RateLimitedError(what, Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
      }
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        logger.warn({ err: error }, "Rate limiter cannot reach Redis");
      }
      throw new LimiterUnavailableError("Rate limits cannot be checked right now", { cause: error });
    }
  }

  /** The outcome of a request-budget check as the response, or undefined to go on. */
  async function spend(c: HonoContext, check: () => Promise<unknown>): Promise<Response | undefined> {
    try {
      await check();
    } catch (error) {
      if (error instanceof RateLimitedError) return tooManyRequests(c, error);
      if (config.rateLimitWhenRedisDown === "closed") return unavailable(c);
    }
    return undefined;
  }

  return {
    async requests(c, next) {
      const calls = callsIn(c);
      const token = readSessionCredentials(c.req.raw.headers)?.token;
      const refused = await spend(c, async () => {
        await attempt("Too many requests from this address", () =>
          perIp.consume(ipKey(clientIp(c, config.trustProxy)), calls),
        );
        if (token) {
          await attempt("Too many requests for this session", () => perSession.consume(accountKey(token), calls));
        }
      });
      if (refused) return refused;
      await next();
    },
    async signedRequests(c, next) {
      const keyId = apiKeyOf(c)?.keyId;
      if (keyId !== undefined) {
        const refused = await spend(c, () =>
          attempt("Too many requests for this API key", () => perApiKey.consume(keyId, callsIn(c))),
        );
        if (refused) return refused;
      }
      await next();
    },
    async loginAttempt(account, ip) {
      const refusal = "Too many failed sign-in attempts; try again later";
      // The address first, then the account from it, then the account everywhere. An attempt one of them refuses
      // counts against none: an address over its budget adds nothing to the accounts it names, and an owner retrying
      // while the account is locked everywhere does not lock their own address too.
      const steps: Array<[RateLimiterRedis, string]> = [
        [loginByIp, ipKey(ip)],
        [loginByAccountFromIp, accountFromIpKey(account, ip)],
        [loginByAccount, accountKey(account)],
      ];
      for (const [i, [limiter, key]] of steps.entries()) {
        try {
          await attempt(refusal, () => limiter.consume(key));
        } catch (error) {
          await Promise.allSettled(steps.slice(0, i).map(([spent, spentKey]) => giveBack(spent, spentKey)));
          throw error;
        }
      }
    },
    async loginSucceeded(account, ip) {
      await Promise.allSettled([
        loginByAccountFromIp.delete(accountFromIpKey(account, ip)),
        giveBack(loginByAccount, accountKey(account)),
        giveBack(loginByIp, ipKey(ip)),
      ]);
    },
    async register(ip) {
      await attempt("Too many accounts created from this address; try again later", () =>
        registerByIp.consume(ipKey(ip)),
      );
    },
    async siweNonce(ip) {
      await attempt("Too many sign-in nonces requested from this address", () => nonceByIp.consume(ipKey(ip)));
    },
    async ready() {
      if (redis.status !== "ready") await new Promise((resolve) => redis.once("ready", resolve));
    },
    async close() {
      redis.disconnect();
    },
  };
}

/**
 * Returns one point a `consume` took. Only to a count still running: `reward` on a window that has ended would start a
 * new one below zero, a free attempt.
 */
async function giveBack(limiter: RateLimiterRedis, key: string): Promise<void> {
  const count = await limiter.get(key);
  if (count && count.consumedPoints > 0) await limiter.reward(key, 1);
}

/** A tRPC batch (`/trpc/a,b,c`, commas percent-encoded or not) counts each of its calls; any other request, one. */
function callsIn(c: HonoContext): number {
  return trpcCallNames(c)?.length ?? 1;
}

function tooManyRequests(c: HonoContext, error: RateLimitedError): Response {
  c.header("retry-after", String(error.retryAfterSeconds));
  return refusal(c, 429, "TOO_MANY_REQUESTS", error.message);
}

function unavailable(c: HonoContext): Response {
  c.header("retry-after", "5");
  return refusal(c, 503, "SERVICE_UNAVAILABLE", "Please try again in a few seconds");
}

/**
 * For procedures: a limiter outcome as the tRPC error clients see (429 with `Retry-After`, or 503 when the limits
 * cannot be checked: these checks fail closed).
 */
export async function enforce(resHeaders: Headers, check: Promise<void>): Promise<void> {
  try {
    await check;
  } catch (error) {
    if (error instanceof RateLimitedError) {
      resHeaders.set("retry-after", String(error.retryAfterSeconds));
      throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: error.message });
    }
    if (error instanceof LimiterUnavailableError) {
      resHeaders.set("retry-after", "5");
      throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "Please try again in a few seconds" });
    }
    throw error;
  }
}
