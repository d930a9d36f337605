import { mkdir, open, readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { CID } from "multiformats/cid";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  ContentNotFoundError,
  type ContentStore,
  createContentStore,
  InvalidCidError,
  InvalidRangeError,
  JSON_TYPE,
  PDF,
  PNG,
  StorageError,
} from "../src/index.ts";
import fixtures from "./fixtures/kubo-cids.json" with { type: "json" };
import { collect, sameBytes } from "./support/bytes.ts";
import { kuboDeterministicBuffer } from "./support/kubo-deterministic-bytes.ts";
import { createTempDirectory } from "./support/temp-directory.ts";

const fixture = (name: string) => {
  const found = fixtures.cases.find((c) => c.name === name);
  if (!found) throw new Error(`no fixture ${name}`);
  return { ...found, bytes: kuboDeterministicBuffer(found.size, fixtures.input.seed) };
};
const fiveMib = fixture("five-mib");
const CHUNK = 262_144;
/** A valid CID (of "hello world") that no test stores unless it says so. */
const UNKNOWN_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";

let directory: Awaited<ReturnType<typeof createTempDirectory>>;
let store: ContentStore;

beforeEach(async () => {
  directory = await createTempDirectory();
  store = await createContentStore({ directory: directory.path });
});
afterEach(() => directory.remove());

const filesUnder = async (path: string) =>
  (await readdir(path, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());

describe("put and get", () => {
  test("default: 5 MiB round-trips through disk under Kubo's CID", async () => {
    const stored = await store.put(fiveMib.bytes, PDF);
    expect(stored).toEqual({ cid: fiveMib.cid, size: fiveMib.size, contentType: PDF });
    expect(sameBytes(await collect(await store.get(stored.cid)), fiveMib.bytes)).toBe("same");
    expect(await store.stat(stored.cid)).toEqual({ size: fiveMib.size, contentType: PDF });
    // 5 MiB is exactly 20 raw chunks, plus the dag-pb root that links them.
    expect(await filesUnder(join(directory.path, "blocks"))).toHaveLength(21);
  });

  test.each(["empty", "one-byte", "one-chunk", "one-chunk-plus-one-byte"])(
    "default: the %s fixture round-trips",
    async (name) => {
      const { bytes, cid, size } = fixture(name);
      const stored = await store.put(bytes, PNG);
      expect(stored).toEqual({ cid, size, contentType: PNG });
      expect(sameBytes(await collect(await store.get(cid)), bytes)).toBe("same");
    },
  );

  test("behavior: a Node stream and a buffer of the same bytes give one CID", async () => {
    const fromStream = await store.put(
      Readable.from([fiveMib.bytes.subarray(0, 1000), fiveMib.bytes.subarray(1000)]),
      PDF,
    );
    expect(fromStream.cid).toBe(fiveMib.cid);
    expect(fromStream.size).toBe(fiveMib.size);
  });

  test("behavior: a new store on the same directory (a restart) still serves the content", async () => {
    const { cid } = await store.put(fiveMib.bytes, PDF);
    const restarted = await createContentStore({ directory: directory.path });
    expect(await restarted.has(cid)).toBe(true);
    expect(await restarted.stat(cid)).toEqual({ size: fiveMib.size, contentType: PDF });
    expect(sameBytes(await collect(await restarted.get(cid)), fiveMib.bytes)).toBe("same");
  });

  test("behavior: concurrent puts of the same bytes store one copy and agree on CID and type", async () => {
    const results = await Promise.all(
      [PDF, PNG, PDF, JSON_TYPE, PDF, PNG, PDF, PDF].map((type) => store.put(fiveMib.bytes, type)),
    );
    expect(new Set(results.map((r) => r.cid))).toEqual(new Set([fiveMib.cid]));
    // The first record written wins, and every caller is told which one that is.
    expect(new Set(results.map((r) => r.contentType)).size).toBe(1);
    expect((await store.stat(fiveMib.cid))?.contentType).toBe(results[0]?.contentType);
    expect(sameBytes(await collect(await store.get(fiveMib.cid)), fiveMib.bytes)).toBe("same");
    const files = await filesUnder(directory.path);
    expect(files.filter((file) => file.name.endsWith(".tmp"))).toEqual([]);
    expect(files.filter((file) => file.name.endsWith(".data"))).toHaveLength(21);
  });

  test("behavior: stores sharing a directory (API instances on one volume) write each block once, whole", async () => {
    // Each store is what one process holds: nothing in memory is shared between them, only the files.
    const instances = await Promise.all(
      Array.from({ length: 4 }, () => createContentStore({ directory: directory.path })),
    );
    for (let round = 0; round < 3; round++) {
      const bytes = kuboDeterministicBuffer(fiveMib.size, `shared volume ${round}`);
      const stored = await Promise.all(instances.map((instance) => instance.put(bytes, PDF)));
      const [first] = stored;
      expect(stored.every((result) => result.cid === first?.cid)).toBe(true);
      // Whichever instance is asked serves every byte as stored.
      for (const instance of instances) {
        expect(sameBytes(await collect(await instance.get(first?.cid ?? "")), bytes)).toBe("same");
      }
    }
    const files = await filesUnder(directory.path);
    expect(files.filter((file) => file.name.endsWith(".tmp"))).toEqual([]);
  });

  test("error: a block another process is still writing never becomes the stored block", async () => {
    // Where the first block of the content lands, learnt from a store in another directory.
    const elsewhere = await createTempDirectory();
    try {
      await (await createContentStore({ directory: elsewhere.path })).put(fiveMib.bytes, PDF);
      const [block] = (await filesUnder(elsewhere.path)).filter((file) => file.name.endsWith(".data"));
      if (!block) throw new Error("no block was written");
      const folder = join(directory.path, relative(elsewhere.path, block.parentPath));
      // Another instance on the same volume is half-way through writing that block, under blockstore-fs's fixed
      // temporary name: the file is open, and it goes on writing after our put.
      await mkdir(folder, { recursive: true });
      const other = await open(join(folder, `.${block.name}.tmp`), "w");
      try {
        const { cid } = await store.put(fiveMib.bytes, PDF);
        await other.truncate(10);
        expect(sameBytes(await collect(await store.get(cid)), fiveMib.bytes)).toBe("same");
      } finally {
        await other.close();
      }
    } finally {
      await elsewhere.remove();
    }
  });

  test("behavior: storing again later keeps the first content type", async () => {
    await store.put(fiveMib.bytes, PDF);
    expect((await store.put(fiveMib.bytes, PNG)).contentType).toBe(PDF);
  });

  test("behavior: content types are stored normalized", async () => {
    const { contentType } = await store.put(new TextEncoder().encode("{}"), "Application/JSON; charset=utf-8");
    expect(contentType).toBe(JSON_TYPE);
  });

  test("error: a content type that is not a media type is refused", async () => {
    await expect(store.put(new Uint8Array([1]), "pdf")).rejects.toThrow(TypeError);
  });

  test("error: content on record whose blocks were deleted cannot be read", async () => {
    const { cid } = await store.put(fiveMib.bytes, PDF);
    await rm(join(directory.path, "blocks"), { recursive: true });
    await expect(store.get(cid)).rejects.toThrow(StorageError);
  });
});

describe("range reads", () => {
  beforeEach(async () => {
    await store.put(fiveMib.bytes, PDF);
  });
  const read = async (offset?: number, length?: number) => collect(await store.get(fiveMib.cid, { offset, length }));

  test("default: a range across a chunk boundary", async () => {
    expect(sameBytes(await read(CHUNK - 10, 20), fiveMib.bytes.subarray(CHUNK - 10, CHUNK + 10))).toBe("same");
  });

  test("behavior: an offset alone reads to the end", async () => {
    expect(sameBytes(await read(fiveMib.size - 100), fiveMib.bytes.subarray(fiveMib.size - 100))).toBe("same");
  });

  test("behavior: the last byte, and an empty range at the end", async () => {
    expect(sameBytes(await read(fiveMib.size - 1, 1), fiveMib.bytes.subarray(fiveMib.size - 1))).toBe("same");
    expect(sameBytes(await read(fiveMib.size, 0), new Uint8Array())).toBe("same");
  });

  test("behavior: a range inside a single raw block", async () => {
    const { cid, bytes } = fixture("one-chunk");
    await store.put(bytes, PNG);
    expect(sameBytes(await collect(await store.get(cid, { offset: 5, length: 7 })), bytes.subarray(5, 12))).toBe(
      "same",
    );
  });

  test.each([
    ["offset past the end", fiveMib.size + 1, undefined],
    ["length past the end", fiveMib.size - 1, 2],
    ["negative offset", -1, 1],
    ["negative length", 0, -1],
    ["fractional offset", 1.5, 1],
  ])("error: %s is an InvalidRangeError", async (_case, offset, length) => {
    await expect(store.get(fiveMib.cid, { offset, length })).rejects.toThrow(InvalidRangeError);
  });
});

describe("unknown and malformed CIDs", () => {
  test("default: has is false, stat is undefined, get throws ContentNotFoundError", async () => {
    expect(await store.has(UNKNOWN_CID)).toBe(false);
    expect(await store.stat(UNKNOWN_CID)).toBeUndefined();
    await expect(store.get(UNKNOWN_CID)).rejects.toThrow(ContentNotFoundError);
  });

  test("behavior: blocks without a content record (an interrupted put) are not content", async () => {
    const { cid } = await store.put(fiveMib.bytes, PDF);
    await rm(join(directory.path, "content"), { recursive: true });
    expect(await store.has(cid)).toBe(false);
  });

  test("error: malformed text is an InvalidCidError everywhere", async () => {
    await expect(store.has("not-a-cid")).rejects.toThrow(InvalidCidError);
    await expect(store.stat("not-a-cid")).rejects.toThrow(InvalidCidError);
    await expect(store.get("not-a-cid")).rejects.toThrow(InvalidCidError);
  });

  test("behavior: the CIDv0 spelling of a dag-pb root finds the same content", async () => {
    const { cid, bytes } = fixture("one-chunk-plus-one-byte");
    await store.put(bytes, PNG);
    const cidV0 = CID.parse(cid).toV0().toString();
    expect(cidV0).toMatch(/^Qm/);
    expect(await store.stat(cidV0)).toEqual({ size: bytes.length, contentType: PNG });
  });

  test("behavior: Kubo's CIDv0 for a small file is a dag-pb block, not our raw block", async () => {
    const { cid } = await store.put(new TextEncoder().encode("hello world"), "text/plain");
    expect(cid).toBe("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    expect(await store.has("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD")).toBe(false);
  });
});
