import { hostname } from "node:os";
import type { BaseTransportOptions, TransportMakeRequestResponse } from "@sentry/core";
import type { ServerRuntimeClientOptions } from "@sentry/core/server";
import type { LogFn, Logger } from "pino";
import type { Config } from "./config.ts";

/**
 * Optional error tracking: with SENTRY_DSN set, every log line at level error or fatal is also sent to Sentry — as an
 * exception when it carries an `err` that is an Error (its type, message and stack frames, read from the Error
 * itself), as a message otherwise — tagged with the service, the log channel and the API's request id. The rest of
 * the line goes along as written to the log, that is after redaction: Sentry never receives a field the log hides.
 * Without a DSN nothing here runs and the Sentry SDK is not even loaded.
 *
 * Only `@sentry/core` is used (no OpenTelemetry, no global hooks): one client per DSN, sending over `fetch`; shutdown
 * (`createShutdown`, `runMain`) waits for reports in flight for at most `ERROR_TRACKING_FLUSH_MS`.
 */

export type ErrorTrackingConfig = Partial<Pick<Config, "sentryDsn" | "sentryEnvironment">>;

/** How long shutdown waits for reports still being sent; a Sentry that does not answer never holds it up longer. */
export const ERROR_TRACKING_FLUSH_MS = 2_000;

/** One POST to Sentry gives up after this long. */
const REQUEST_TIMEOUT_MS = 10_000;

/** pino's numeric levels. */
const ERROR_LEVEL = 50;
const FATAL_LEVEL = 60;

export type ErrorReport = {
  level: "error" | "fatal";
  /** The log line's message. */
  message: string | undefined;
  /** The Error the line carried, sent as the exception with its stack (and its causes'). */
  error: Error | undefined;
  /** Searchable: `service`, `log` (the channel), `request_id`. */
  tags: Record<string, string>;
  /** The rest of the log line, as written (redacted). */
  extra: Record<string, unknown>;
};

export type ErrorTracker = {
  /** Queues a report; never throws, never waits. */
  report(report: ErrorReport): void;
  /** Resolves once queued reports are sent, or after `timeoutMs`, abandoning what is still in flight. */
  flush(timeoutMs?: number): Promise<void>;
};

const trackers = new Map<string, ErrorTracker>();

/** The process's tracker for this DSN and environment (created on first use), or undefined without a DSN. */
export function errorTrackerFor(config: ErrorTrackingConfig): ErrorTracker | undefined {
  if (!config.sentryDsn) return undefined;
  const key = `${config.sentryDsn} ${config.sentryEnvironment ?? ""}`;
  let tracker = trackers.get(key);
  if (!tracker) {
    tracker = createTracker(config.sentryDsn, config.sentryEnvironment);
    trackers.set(key, tracker);
  }
  return tracker;
}

/** Waits for every report in flight, for at most `timeoutMs`; resolves at once when no DSN was configured. */
export async function flushErrorTracking(timeoutMs = ERROR_TRACKING_FLUSH_MS): Promise<void> {
  await Promise.all([...trackers.values()].map((tracker) => tracker.flush(timeoutMs)));
}

/** Reports the error a process is about to exit on (`runMain`), if error tracking is on. */
export function reportCrash(service: string, error: unknown): void {
  const crash = error instanceof Error ? error : new Error(String(error));
  for (const tracker of trackers.values()) {
    tracker.report({
      level: "fatal",
      message: "Exited on an unexpected error",
      error: crash,
      tags: { service },
      extra: {},
    });
  }
}

/**
 * pino hooks that report error and fatal lines to `tracker`: `logMethod` keeps the line's Error object (for its stack),
 * and `streamWrite`, called synchronously with the serialized line, supplies everything else in its redacted form.
 */
export function errorReportingHooks(tracker: ErrorTracker): {
  logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void;
  streamWrite(line: string): string;
} {
  let pending: { error: Error | undefined } | undefined;
  return {
    logMethod(args, method, level) {
      if (level < ERROR_LEVEL) return method.apply(this, args);
      pending = { error: errorIn(args[0]) };
      try {
        method.apply(this, args);
      } finally {
        pending = undefined;
      }
    },
    streamWrite(line) {
      if (pending) {
        const { error } = pending;
        pending = undefined;
        try {
          tracker.report(reportFrom(line, error));
        } catch {
          // Error tracking must never break logging.
        }
      }
      return line;
    },
  };
}

/** The Error a log call carries: `logger.error(err, …)` or `logger.error({ err }, …)`, pino's `errorKey`. */
function errorIn(first: unknown): Error | undefined {
  if (first instanceof Error) return first;
  if (typeof first === "object" && first !== null && "err" in first && first.err instanceof Error) return first.err;
  return undefined;
}

/** Splits a serialized (and so redacted) log line into the report's parts. */
function reportFrom(line: string, error: Error | undefined): ErrorReport {
  let fields: Record<string, unknown> = {};
  try {
    fields = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Not JSON (a custom formatter): report the Error alone.
  }
  const { level, time: _time, msg, service, log, reqId, err, ...extra } = fields;
  const tags: Record<string, string> = {};
  if (typeof service === "string") tags.service = service;
  if (typeof log === "string") tags.log = log;
  if (typeof reqId === "string") tags.request_id = reqId;
  if (error) {
    // The exception has the type, message and stack; keep whatever else the serialized error has (codes, redacted keys).
    if (typeof err === "object" && err !== null) {
      const { type: _type, message: _message, stack: _stack, ...errorFields } = err as Record<string, unknown>;
      if (Object.keys(errorFields).length > 0) extra.err = errorFields;
    }
  } else if (err !== undefined) {
    extra.err = err;
  }
  return {
    level: typeof level === "number" && level >= FATAL_LEVEL ? "fatal" : "error",
    message: typeof msg === "string" ? msg : undefined,
    error,
    tags,
    extra,
  };
}

function createTracker(dsn: string, environment: string | undefined): ErrorTracker {
  const inFlight = new Set<AbortController>();
  // Loaded on first use, so processes without a DSN never pay for the SDK.
  const sentry = loadClient(dsn, environment, inFlight);
  sentry.catch(() => undefined);

  return {
    report(report) {
      void sentry
        .then(({ client, Scope }) => {
          const scope = new Scope();
          scope.setClient(client);
          scope.setLevel(report.level);
          scope.setTags(report.tags);
          scope.setExtras(report.extra);
          if (!report.error) {
            client.captureMessage(report.message ?? "Logged an error", report.level, undefined, scope);
            return;
          }
          const { message } = report;
          if (message !== undefined && message !== report.error.message) {
            scope.addEventProcessor((event) => ({ ...event, logentry: { message } }));
          }
          client.captureException(report.error, { originalException: report.error }, scope);
        })
        // No SDK, or a report it could not build: error tracking must never take the process down.
        .catch(() => undefined);
    },
    async flush(timeoutMs = ERROR_TRACKING_FLUSH_MS) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      });
      const flushed = sentry.then(
        ({ client }) => client.flush(timeoutMs),
        () => true,
      );
      const done = await Promise.race([flushed, timedOut]);
      clearTimeout(timer);
      if (!done) for (const request of inFlight) request.abort();
    },
  };
}

async function loadClient(dsn: string, environment: string | undefined, inFlight: Set<AbortController>) {
  const [core, server] = await Promise.all([import("@sentry/core"), import("@sentry/core/server")]);
  const options: ServerRuntimeClientOptions = {
    dsn,
    environment,
    serverName: hostname(),
    platform: "node",
    runtime: { name: "node", version: process.version },
    // `cause` chains as linked exceptions; the same event twice in a row only once.
    integrations: [core.linkedErrorsIntegration(), core.dedupeIntegration()],
    stackParser: core.createStackParser(server.nodeStackLineParser()),
    transport: (transportOptions) =>
      core.createTransport(transportOptions, (request) => post(transportOptions, request.body, inFlight)),
    // Errors only: no traces, no synthetic stacks for messages, no client reports; and no request data, should an
    // integration that collects it ever be added (the log line, redacted, is what describes a request).
    traceLifecycle: "static",
    attachStacktrace: false,
    sendClientReports: false,
    dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false },
  };
  core.applySdkMetadata(options, "core");
  const client = new server.ServerRuntimeClient(options);
  client.init();
  return { client, Scope: core.Scope };
}

/** Sends one envelope to the DSN's envelope endpoint over global fetch. */
async function post(
  options: BaseTransportOptions,
  body: string | Uint8Array,
  inFlight: Set<AbortController>,
): Promise<TransportMakeRequestResponse> {
  const abort = new AbortController();
  inFlight.add(abort);
  try {
    const response = await fetch(options.url, {
      method: "POST",
      headers: { "content-type": "application/x-sentry-envelope", ...options.headers },
      body,
      signal: AbortSignal.any([abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
    await response.body?.cancel();
    return {
      statusCode: response.status,
      headers: {
        "x-sentry-rate-limits": response.headers.get("x-sentry-rate-limits"),
        "retry-after": response.headers.get("retry-after"),
      },
    };
  } finally {
    inFlight.delete(abort);
  }
}
