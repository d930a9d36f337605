import { flushErrorTracking } from "./error-tracking.ts";

/**
 * Ordered cleanup for a long-running process: every resource registers how to release itself with `add`, and
 * `run` releases them in reverse order exactly once (on SIGINT/SIGTERM when `trapSignals` is called), then gives error
 * reports still on their way to Sentry a short while to arrive.
 */
export type Shutdown = {
  /** Registers a cleanup step; steps run last-added first. */
  add(step: () => Promise<void> | void): void;
  /** Runs every step once; later calls return the same promise. */
  run(reason: string): Promise<void>;
  /** True once `run` has been called. */
  readonly isShuttingDown: boolean;
  /** Calls `run` on SIGINT and SIGTERM, then exits. */
  trapSignals(onStep?: (reason: string) => void): void;
};

export function createShutdown(): Shutdown {
  const steps: Array<() => Promise<void> | void> = [];
  let running: Promise<void> | undefined;

  const run = (_reason: string): Promise<void> => {
    running ??= (async () => {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch {
          // A failing cleanup must not stop the others from releasing their resources.
        }
      }
      await flushErrorTracking();
    })();
    return running;
  };

  return {
    add: (step) => void steps.push(step),
    run,
    get isShuttingDown() {
      return running !== undefined;
    },
    trapSignals(onSignal) {
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
          onSignal?.(signal);
          void run(signal).then(() => process.exit(0));
        });
      }
    },
  };
}
