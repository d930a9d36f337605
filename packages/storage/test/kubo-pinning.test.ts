import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createContentStore, IpfsNodeError, PDF } from "../src/index.ts";
import fixtures from "./fixtures/kubo-cids.json" with { type: "json" };
import { collect, sameBytes } from "./support/bytes.ts";
import { type FakeKubo, startFakeKubo } from "./support/fake-kubo.ts";
import { kuboDeterministicBuffer } from "./support/kubo-deterministic-bytes.ts";
import { createTempDirectory } from "./support/temp-directory.ts";

// Against a local stub of Kubo's RPC API (see support/fake-kubo.ts), not a real Kubo: it checks the requests we send
// and how we treat the answers, including wrong ones.

const fiveMib = fixtures.cases.find((c) => c.name === "five-mib");
if (!fiveMib) throw new Error("five-mib fixture missing");
const bytes = kuboDeterministicBuffer(fiveMib.size, fixtures.input.seed);

let directory: Awaited<ReturnType<typeof createTempDirectory>>;
let node: FakeKubo;

beforeEach(async () => {
  directory = await createTempDirectory();
  node = await startFakeKubo();
});
afterEach(async () => {
  await node.close();
  await directory.remove();
});

describe("with IPFS_API_URL", () => {
  test("default: put pushes every block and pins the root on the node", async () => {
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: node.url });
    const { cid } = await store.put(bytes, PDF);
    expect(cid).toBe(fiveMib.cid);
    expect(node.pins).toEqual(new Set([cid]));
    expect(node.blocks.size).toBe(21);
    const codecs = node.requests.filter((r) => r.command === "block/put").map((r) => r.query.get("cid-codec"));
    expect(codecs.filter((codec) => codec === "raw")).toHaveLength(20);
    expect(codecs.filter((codec) => codec === "dag-pb")).toHaveLength(1);
  });

  test("behavior: blocks missing locally are read through the node and kept", async () => {
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: node.url });
    const { cid } = await store.put(bytes, PDF);
    await rm(join(directory.path, "blocks"), { recursive: true });

    expect(sameBytes(await collect(await store.get(cid)), bytes)).toBe("same");
    expect(node.requests.filter((r) => r.command === "block/get")).toHaveLength(21);
    const kept = await readdir(join(directory.path, "blocks"), { recursive: true });
    expect(kept.filter((name) => name.endsWith(".data"))).toHaveLength(21);
  });

  test("error: a block from the node that does not match its CID is refused", async () => {
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: node.url });
    const small = new TextEncoder().encode("certified document");
    const { cid } = await store.put(small, PDF);
    await rm(join(directory.path, "blocks"), { recursive: true });
    node.tamper(cid, new TextEncoder().encode("forged document!!!"));

    await expect(store.get(cid)).rejects.toThrow(IpfsNodeError);
  });

  test("error: a node that is down fails the put as retryable, and the local copy stays", async () => {
    await node.close();
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: node.url, ipfsTimeoutMs: 2000 });
    const failure = await store.put(bytes, PDF).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IpfsNodeError);
    expect((failure as IpfsNodeError).retryable).toBe(true);
    expect((failure as IpfsNodeError).message).toMatch(/Could not reach the IPFS node at http:\/\/127\.0\.0\.1:\d+/);
    expect(await store.has(fiveMib.cid)).toBe(true);
    node = await startFakeKubo(); // so afterEach has a server to close
  });

  test("error: the node's own error message is passed on", async () => {
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: `${node.url}/not-kubo` });
    await expect(store.put(bytes, PDF)).rejects.toThrow(/refused block\/put \(HTTP 404\): 404 page not found/);
  });

  test("behavior: user and password in the URL become Basic auth and stay out of messages", async () => {
    const withCredentials = node.url.replace("http://", "http://certchain:s3cret@");
    const store = await createContentStore({ directory: directory.path, ipfsApiUrl: withCredentials });
    await store.put(new Uint8Array([1, 2, 3]), PDF);
    const expected = `Basic ${Buffer.from("certchain:s3cret").toString("base64")}`;
    expect(node.requests.every((r) => r.authorization === expected)).toBe(true);
  });
});
