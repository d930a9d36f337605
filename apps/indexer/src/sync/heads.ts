import { createPublicClient, webSocket } from "viem";
import type { Common } from "../common.ts";

/**
 * When to look at the chain again. Polling always runs (it is the fallback and catches anything a socket missed);
 * with `ETH_WS_URL`, a `newHeads` subscription wakes the indexer as soon as a block arrives. If the socket drops,
 * viem reconnects in the background while polling carries on.
 */
export type HeadWatcher = {
  /** Resolves at the next new head or after `pollIntervalMs`, whichever comes first (or on `wake()`). */
  next(): Promise<void>;
  /** Ends the current wait at once (shutdown). */
  wake(): void;
  close(): Promise<void>;
};

export function createHeadWatcher(common: Pick<Common, "config" | "logger">, pollIntervalMs: number): HeadWatcher {
  let wakeWaiter: (() => void) | undefined;
  let pendingHead = false;
  const wake = () => {
    if (wakeWaiter) wakeWaiter();
    else pendingHead = true;
  };

  let unwatch: (() => void) | undefined;
  let closeSocket: (() => Promise<void>) | undefined;
  const wsUrl = common.config.ethWsUrl;
  if (wsUrl) {
    const transport = webSocket(wsUrl, { reconnect: { attempts: Number.MAX_SAFE_INTEGER, delay: 1_000 } });
    const client = createPublicClient({ transport });
    let failing = false;
    // `poll: false` subscribes to newHeads; viem's transport-type narrowing does not see through `webSocket(…)`
    // here, hence the cast.
    unwatch = client.watchBlockNumber({
      poll: false as unknown as true,
      onBlockNumber: () => {
        if (failing) common.logger.info("Resumed newHeads subscription");
        failing = false;
        wake();
      },
      onError: (error) => {
        if (!failing)
          common.logger.warn({ error: error.message.split("\n")[0] }, "Lost newHeads subscription; polling");
        failing = true;
      },
    });
    closeSocket = async () => {
      const socketClient = await transport({}).value?.getRpcClient();
      socketClient?.close();
    };
  }

  return {
    wake,
    next() {
      if (pendingHead) {
        pendingHead = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollIntervalMs);
        function done() {
          clearTimeout(timer);
          wakeWaiter = undefined;
          resolve();
        }
        wakeWaiter = done;
      });
    },
    async close() {
      unwatch?.();
      await closeSocket?.().catch(() => undefined);
    },
  };
}
