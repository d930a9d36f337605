import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for Sentry's ingest endpoint, for tests of error tracking (test-only, exported from
 * `@certchain/common/testing`): a local HTTP server that records every envelope POSTed to it and answers 200, reached
 * through `dsn` exactly as a real Sentry would be.
 */
export type FakeSentry = {
  /** `http://publickey@127.0.0.1:<port>/1` */
  dsn: string;
  /** Every envelope received, in order: its request path, raw body and parsed items. */
  envelopes: ReceivedEnvelope[];
  /** The payloads of every `event` item received so far. */
  // biome-ignore lint/suspicious/noExplicitAny: Sentry event JSON, whose shape each test asserts
  events(): any[];
  close(): Promise<void>;
};

export type ReceivedEnvelope = {
  path: string;
  raw: string;
  header: Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: item payloads, whose shape each test asserts
  items: Array<{ type: string; payload: any }>;
};

export async function startFakeSentry(): Promise<FakeSentry> {
  const envelopes: ReceivedEnvelope[] = [];
  const server = createServer(async (request, response) => {
    const raw = await readBody(request);
    envelopes.push({ path: request.url ?? "", raw, ...parseEnvelope(raw) });
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    dsn: `http://publickey@127.0.0.1:${port}/1`,
    envelopes,
    events: () => envelopes.flatMap((e) => e.items.filter((item) => item.type === "event").map((item) => item.payload)),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** An envelope is newline-separated JSON: its header, then a header and a payload per item (ours have no binary). */
function parseEnvelope(raw: string): Pick<ReceivedEnvelope, "header" | "items"> {
  const [header = "{}", ...rest] = raw.split("\n").filter((line) => line !== "");
  const items: ReceivedEnvelope["items"] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) {
    items.push({ type: JSON.parse(rest[i] as string).type, payload: JSON.parse(rest[i + 1] as string) });
  }
  return { header: JSON.parse(header), items };
}
