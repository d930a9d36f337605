import { join } from "node:path";
import { type DestinationStream, type Logger, pino } from "pino";
import type { Config } from "./config.ts";
import { type ErrorTrackingConfig, errorReportingHooks, errorTrackerFor } from "./error-tracking.ts";

export type { Logger };

/**
 * What a log line is for, as the operations guide splits them: `app` (what the process does, including its errors),
 * `access` (one line per HTTP request) and `tx` (every transaction request's state change, with hashes).
 */
export type LogChannel = "app" | "access" | "tx";

/** Every field that may hold a secret, wherever it sits in a logged object (one or two levels deep). */
const REDACTED_FIELDS = [
  "privateKey",
  "password",
  "passwordHash",
  "token",
  "masterKey",
  "encryptedKey",
  "authorization",
  "cookie",
];
const redactPaths = [
  ...REDACTED_FIELDS,
  ...REDACTED_FIELDS.map((field) => `*.${field}`),
  ...REDACTED_FIELDS.map((field) => `*.*.${field}`),
  'headers["set-cookie"]',
];

/**
 * Structured JSON logs (one object per line) with the service name and channel on every line, secrets redacted.
 * Without `LOG_DIR` every channel goes to stdout (filter on `log`); with it, each goes to its own file:
 * `<service>.log` (errors also copied to `<service>.error.log`, stacks included), `<service>.access.log`, and
 * `<service>.tx.log`. With SENTRY_DSN set, error and fatal lines also go to Sentry, redacted the same way (see
 * `error-tracking.ts`).
 */
export function createLogger(
  config: Pick<Config, "logLevel"> & { logDir?: string | undefined } & ErrorTrackingConfig,
  service: string,
  channel: LogChannel = "app",
): Logger {
  const tracker = errorTrackerFor(config);
  return pino(
    {
      level: config.logLevel,
      base: { service, log: channel },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: "[redacted]" },
      ...(tracker && { hooks: errorReportingHooks(tracker) }),
    },
    destinationFor(config.logDir, service, channel),
  );
}

function destinationFor(logDir: string | undefined, service: string, channel: LogChannel): DestinationStream {
  if (!logDir) return pino.destination(1);
  const file = (suffix: string) => pino.destination({ dest: join(logDir, `${service}${suffix}.log`), mkdir: true });
  if (channel !== "app") return file(`.${channel}`);
  return pino.multistream([
    { level: "trace", stream: file("") },
    { level: "error", stream: file(".error") },
  ]);
}
