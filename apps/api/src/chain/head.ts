import type { PublicClient } from "viem";

/** How long a read of the chain head is reused; confirmations need not be fresher than a block or so. */
const HEAD_TTL_MS = 1_000;

export type HeadReader = {
  /** The node's latest block number, read at most once per second (concurrent callers share one request). */
  latest(): Promise<number>;
};

export function createHeadReader(client: Pick<PublicClient, "getBlockNumber">): HeadReader {
  let cached: { at: number; value: Promise<number> } | undefined;
  return {
    latest() {
      const now = Date.now();
      if (!cached || now - cached.at > HEAD_TTL_MS) {
        const value = client.getBlockNumber({ cacheTime: 0 }).then(Number);
        cached = { at: now, value };
        // A failed read must not be cached for the whole TTL.
        value.catch(() => {
          if (cached?.value === value) cached = undefined;
        });
      }
      return cached.value;
    },
  };
}
