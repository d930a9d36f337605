import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of anvil (HTTP and WebSocket alike), so a test can take "the node" down and bring it back on
 * the same address without losing the chain.
 */
export async function startNodeProxy(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, "127.0.0.1");
        sockets.add(client).add(upstream);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", close).on("close", close);
        upstream.on("error", close).on("close", close);
        client.pipe(upstream).pipe(client);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        const address = server?.address();
        port = typeof address === "object" && address ? address.port : port;
        resolve();
      });
    });

  await listen();
  return {
    get rpcUrl() {
      return `http://127.0.0.1:${port}`;
    },
    get wsUrl() {
      return `ws://127.0.0.1:${port}`;
    },
    /** Refuses new connections and cuts open ones: the node is down. */
    async down() {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
      // `close` waits for open connections to end: cut them, as a dying node would.
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
    /** Listens again on the same port. */
    up: listen,
  };
}
