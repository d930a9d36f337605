import type { Logger } from "@certchain/common";
import { parseTxStatusEvent, type TxStatusEvent } from "@certchain/queue";
import type { Redis } from "ioredis";

/**
 * Events a listener holds while its stream is not reading. The newest are kept: the last event is the one that says
 * where a request stands, and a stream re-reads the row from time to time anyway.
 */
const MAX_BUFFERED_EVENTS = 100;

/** The relayer's status changes for one request, as they arrive. */
export type TxStatusListener = {
  /**
   * The next event, or `null` when `timeoutMs` passes or `signal` aborts first. Events that arrive while nobody is
   * waiting are kept, in order, for the next call.
   */
  next(timeoutMs: number, signal: AbortSignal): Promise<TxStatusEvent | null>;
  /** Stops listening; events for the request are no longer kept. */
  close(): void;
};

export type TxStatusFeed = {
  /**
   * Starts listening to one request's status changes. Resolves once Redis has confirmed the subscription, so every
   * event published after that reaches the listener.
   */
  listen(requestId: string): Promise<TxStatusListener>;
  /** Listeners open right now (streams still connected). */
  readonly listenerCount: number;
  /** Disconnects the subscriber connection. */
  close(): Promise<void>;
};

/**
 * The relayer's status channel (`txStatusChannel(prefix)`), fanned out by request id. One Redis subscriber per
 * process serves every open stream, whatever their number: a subscribed connection can do nothing else, so it is a
 * duplicate of the API's connection, opened at the first `listen` and subscribed for as long as the process runs.
 */
export function createTxStatusFeed(options: { redis: Redis; channel: string; logger: Logger }): TxStatusFeed {
  const { channel, logger } = options;
  const listeners = new Map<string, Set<(event: TxStatusEvent) => void>>();
  let subscriber: Redis | undefined;
  let subscribed: Promise<void> | undefined;
  let closed = false;

  const dispatch = (messageChannel: string, message: string) => {
    if (messageChannel !== channel) return;
    const event = parseTxStatusEvent(message);
    if (!event) {
      logger.warn({ channel, message: message.slice(0, 200) }, "Ignored a malformed status event");
      return;
    }
    for (const deliver of listeners.get(event.requestId) ?? []) deliver(event);
  };

  const subscribe = (): Promise<void> => {
    if (closed) return Promise.reject(new Error("the status feed is closed"));
    if (!subscriber) {
      subscriber = options.redis.duplicate();
      subscriber.on("message", dispatch);
      // ioredis reconnects and re-subscribes by itself; events published meanwhile are lost, which streams make up for
      // by re-reading their row.
      subscriber.on("error", (error: Error) => logger.warn({ err: error.message }, "Status feed connection failed"));
    }
    const connection = subscriber;
    subscribed ??= connection.subscribe(channel).then(
      () => undefined,
      (error: unknown) => {
        subscribed = undefined;
        throw error;
      },
    );
    return subscribed;
  };

  return {
    async listen(requestId) {
      const buffered: TxStatusEvent[] = [];
      let wake: (() => void) | undefined;
      const deliver = (event: TxStatusEvent) => {
        buffered.push(event);
        if (buffered.length > MAX_BUFFERED_EVENTS) buffered.shift();
        wake?.();
      };
      let forRequest = listeners.get(requestId);
      if (!forRequest) {
        forRequest = new Set();
        listeners.set(requestId, forRequest);
      }
      forRequest.add(deliver);
      const close = () => {
        forRequest.delete(deliver);
        if (forRequest.size === 0 && listeners.get(requestId) === forRequest) listeners.delete(requestId);
        wake?.();
      };
      try {
        await subscribe();
      } catch (error) {
        close();
        throw error;
      }

      return {
        async next(timeoutMs, signal) {
          if (buffered.length === 0 && !signal.aborted) {
            await new Promise<void>((resolve) => {
              const done = () => {
                clearTimeout(timer);
                signal.removeEventListener("abort", done);
                wake = undefined;
                resolve();
              };
              const timer = setTimeout(done, timeoutMs);
              signal.addEventListener("abort", done);
              wake = done;
            });
          }
          return signal.aborted ? null : (buffered.shift() ?? null);
        },
        close,
      };
    },

    get listenerCount() {
      let count = 0;
      for (const forRequest of listeners.values()) count += forRequest.size;
      return count;
    },

    async close() {
      closed = true;
      listeners.clear();
      subscriber?.disconnect();
    },
  };
}
