import type { Logger } from "@certchain/common";
import { isConnectionError, isStatementTimeoutError } from "@certchain/db";
import { TRPCError } from "@trpc/server";

/**
 * A backing service that is down (killed, restarting, unreachable) is not a bug in the API: requests that need it
 * answer 503 SERVICE_UNAVAILABLE with `Retry-After`, in a sentence naming what is missing, and at once (the database
 * pool refuses or loses its connections, the Redis connection fails its commands fast: see `createFailFastRedis`).
 * Everything else unexpected stays a 500.
 */

export type UnavailableService = "database" | "redis";

/** Seconds a client is told to wait before trying again. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * ioredis' own failures of a command while its connection is down: the offline queue flushed after a failed reconnect,
 * the offline queue disabled, the connection closed for good, or no reply within `commandTimeout`.
 */
const REDIS_UNAVAILABLE =
  /^(Reached the max retries per request limit|Stream isn't writeable|Connection is closed|Command timed out)/;

/** Which service the error says is out of reach, anywhere in its cause chain; undefined for any other error. */
export function unavailableService(error: unknown): UnavailableService | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof ServiceUnavailableError) return e.service;
    // Refused, lost, reset, timed out, too many connections, or a statement the server stopped at the time limit;
    // any other failed statement on a live connection is not.
    if (isConnectionError(e) || isStatementTimeoutError(e)) return "database";
    if (e.name === "MaxRetriesPerRequestError" || REDIS_UNAVAILABLE.test(e.message)) return "redis";
  }
  return undefined;
}

/** Thrown where the API knows a service is down before trying it (see `requests.ts`). */
export class ServiceUnavailableError extends Error {
  constructor(
    readonly service: UnavailableService,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_MESSAGES: Record<UnavailableService, string> = {
  database: "The database is unavailable right now; try again in a few seconds",
  redis: "A service this request needs is unavailable right now; try again in a few seconds",
};

/** The sentence a client gets. */
export function unavailableMessage(error: unknown, service: UnavailableService): string {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof ServiceUnavailableError) return e.message;
  }
  return DEFAULT_MESSAGES[service];
}

const warnedAt: Record<UnavailableService, number> = { database: 0, redis: 0 };

/** Logs an outage once a minute per service (not once per request), with the driver's error. */
export function reportUnavailable(logger: Logger, service: UnavailableService, error: unknown): void {
  if (Date.now() - warnedAt[service] < 60_000) return;
  warnedAt[service] = Date.now();
  let cause: unknown = error;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  logger.warn(
    { service, err: cause instanceof Error ? cause.message : String(cause) },
    "Answered 503: a service is unavailable",
  );
}

/**
 * The error as tRPC's SERVICE_UNAVAILABLE (HTTP 503) when it says a service is down, after setting `Retry-After`;
 * otherwise undefined.
 */
export function toUnavailableError(error: unknown, resHeaders: Headers, logger: Logger): TRPCError | undefined {
  if (error instanceof TRPCError && error.code === "SERVICE_UNAVAILABLE") return error;
  const service = unavailableService(error);
  if (service === undefined) return undefined;
  reportUnavailable(logger, service, error);
  resHeaders.set("retry-after", String(RETRY_AFTER_SECONDS));
  return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: unavailableMessage(error, service), cause: error });
}
