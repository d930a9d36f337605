/** One backfill batch, for the progress line. */
export type BackfillProgress = { done: number; target: number; events: number; ms: number };

export type ProgressReporter = {
  update(progress: BackfillProgress): void;
  /** Ends the line (backfill reached the head). */
  done(): void;
};

/**
 * The terminal progress line during backfill: blocks done / target, events/s, ETA. Only on a TTY (JSON logs are
 * the record everywhere else); it writes to stderr so stdout stays pure JSON.
 */
export function createProgressReporter(enabled: boolean): ProgressReporter {
  let active = false;
  let firstBlock: number | undefined;
  let startedAt = 0;
  let events = 0;
  return {
    update({ done, target, events: batchEvents }) {
      if (!enabled) return;
      if (firstBlock === undefined) {
        firstBlock = done;
        startedAt = performance.now();
      }
      events += batchEvents;
      const seconds = Math.max(0.001, (performance.now() - startedAt) / 1000);
      const blocksPerSecond = (done - firstBlock) / seconds;
      const eta = blocksPerSecond > 0 ? Math.round((target - done) / blocksPerSecond) : 0;
      const percent = target > 0 ? ((done / target) * 100).toFixed(1) : "100";
      process.stderr.write(
        `\rindexer: block ${done} / ${target} (${percent}%), ${Math.round(events / seconds)} events/s, ETA ${eta} s   `,
      );
      active = true;
    },
    done() {
      if (!active) return;
      process.stderr.write("\n");
      active = false;
      firstBlock = undefined;
      events = 0;
    },
  };
}
