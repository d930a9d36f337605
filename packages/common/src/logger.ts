import { type Logger, pino } from "pino";
import type { Config } from "./config.ts";

export type { Logger };

/**
 * Structured JSON logs (one object per line) with the service name on every line. Private keys, session tokens and
 * passwords are redacted wherever they appear in a logged object.
 */
export function createLogger(config: Pick<Config, "logLevel">, service: string): Logger {
  return pino({
    level: config.logLevel,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        "privateKey",
        "*.privateKey",
        "password",
        "*.password",
        "token",
        "*.token",
        "masterKey",
        "*.masterKey",
        "authorization",
        "*.authorization",
        "headers.cookie",
      ],
      censor: "[redacted]",
    },
  });
}
