import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exporter } from "ipfs-unixfs-exporter";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";

/**
 * A stand-in for a Kubo node's RPC API, speaking only the three commands the content store uses, with the request
 * and response shapes of Kubo's RPC reference: `block/put` (multipart body, `cid-codec`, answers `{Key, Size}`),
 * `pin/add` (`arg`, `recursive`, answers `{Pins}`; fails unless every block of the DAG is present, as an offline
 * Kubo would), `block/get` (`arg`, answers the bytes), errors as HTTP 500 `{Message, Code, Type: "error"}`. Kubo is
 * an outside peer we cannot install here; this checks our side of the protocol, not Kubo's behaviour.
 */
export type FakeKubo = {
  url: string;
  blocks: Map<string, Uint8Array>;
  pins: Set<string>;
  /** Every request as `command?query`, with the Authorization header it carried. */
  requests: Array<{ command: string; query: URLSearchParams; authorization: string | undefined }>;
  /** Replace a block's bytes, as a misbehaving peer would. */
  tamper(cid: string, bytes: Uint8Array): void;
  close(): Promise<void>;
};

const DAG_PB_CODE = 0x70;

export async function startFakeKubo(): Promise<FakeKubo> {
  const blocks = new Map<string, Uint8Array>();
  const pins = new Set<string>();
  const requests: FakeKubo["requests"] = [];
  const keyOf = (cid: CID) => cid.toV1().toString();
  const blockstore = {
    async *get(cid: CID) {
      const block = blocks.get(keyOf(cid));
      if (!block) throw new Error(`ipld: could not find ${cid}`);
      yield block;
    },
  };

  const commands: Record<string, (query: URLSearchParams, request: IncomingMessage) => Promise<unknown>> = {
    "block/put": async (query, request) => {
      const codec = query.get("cid-codec") ?? "raw";
      const code = codec === "raw" ? raw.code : codec === "dag-pb" ? DAG_PB_CODE : undefined;
      if (code === undefined) throw new Error(`unknown cid-codec ${codec}`);
      const form = await new Response(await readBody(request), {
        headers: { "content-type": request.headers["content-type"] ?? "" },
      }).formData();
      const file = [...form.values()].find((value) => typeof value !== "string");
      if (!file || typeof file === "string") throw new Error("block/put: no file part in the body");
      const block = new Uint8Array(await file.arrayBuffer());
      const cid = CID.createV1(code, await sha256.digest(block));
      blocks.set(keyOf(cid), block);
      return { Key: cid.toString(), Size: block.length };
    },
    "pin/add": async (query) => {
      const cid = CID.parse(query.get("arg") ?? "");
      const entry = await exporter(cid, blockstore);
      if (entry.type === "file" || entry.type === "raw") for await (const _ of entry.content());
      pins.add(keyOf(cid));
      return { Pins: [cid.toString()] };
    },
    "block/get": async (query) => {
      const cid = CID.parse(query.get("arg") ?? "");
      const block = blocks.get(keyOf(cid));
      if (!block) throw new Error(`block was not found locally (offline): ipld: could not find ${cid}`);
      return block;
    },
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://fake-kubo");
    const command = url.pathname.replace(/^\/api\/v0\//, "");
    requests.push({ command, query: url.searchParams, authorization: request.headers.authorization });
    const handler = commands[command];
    // Refusals drain the request body first, so the client is not left uploading into a closed exchange.
    const refuse = (status: number, message: string) =>
      request.resume().on("end", () => response.writeHead(status, { "content-type": "text/plain" }).end(message));
    if (!url.pathname.startsWith("/api/v0/") || !handler) return void refuse(404, "404 page not found");
    if (request.method !== "POST") return void refuse(405, "405 - Method Not Allowed");
    handler(url.searchParams, request).then(
      (result) => {
        if (result instanceof Uint8Array) response.writeHead(200, { "content-type": "text/plain" }).end(result);
        else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
      },
      (error: unknown) => {
        const Message = error instanceof Error ? error.message : String(error);
        response
          .writeHead(500, { "content-type": "application/json" })
          .end(JSON.stringify({ Message, Code: 0, Type: "error" }));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    blocks,
    pins,
    requests,
    tamper: (cid, bytes) => void blocks.set(keyOf(CID.parse(cid)), bytes),
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
