import { ConfigError } from "./config.ts";
import { flushErrorTracking, reportCrash } from "./error-tracking.ts";
import { UserFacingError } from "./errors.ts";

/**
 * Runs a command's entry point: known problems (bad configuration, a service that is down) are printed as one
 * line prefixed with the command's name and exit with status 1; anything else also prints one line, and its
 * stack only when `CERTCHAIN_DEBUG` is set, so operators never see a wall of frames for an expected failure. With
 * SENTRY_DSN set, such an unexpected error is also reported (stack included) before the process exits.
 */
export function runMain(command: string, main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode ??= 0;
    },
    (error: unknown) => {
      if (error instanceof ConfigError || error instanceof UserFacingError) {
        console.error(`${command}: ${error.message}`);
      } else {
        const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
        console.error(`${command}: unexpected error: ${message}`);
        // The one place allowed to read the environment outside config.ts: a debugging switch for this printer.
        if (process.env.CERTCHAIN_DEBUG) console.error(error);
        reportCrash(command, error);
      }
      void flushErrorTracking().finally(() => process.exit(1));
    },
  );
}
