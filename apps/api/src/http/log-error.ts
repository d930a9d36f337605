import { DrizzleQueryError } from "drizzle-orm/errors";

/**
 * What of a failure may go to the error log. drizzle's query errors put the statement's parameters in their message,
 * and those can be password hashes or emails; log the SQL text and the driver's own error instead.
 */
export function loggableError(error: unknown): unknown {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof DrizzleQueryError) {
      return { type: "DrizzleQueryError", query: e.query, driverError: e.cause ?? "none" };
    }
  }
  return error;
}
