import { createHash } from "node:crypto";
import { importer } from "ipfs-unixfs-importer";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
import { sha256 } from "multiformats/hashes/sha2";
import { describe, expect, test } from "vitest";
import {
  canonicalCid,
  computeCid,
  InvalidCidError,
  type KuboImportParameters,
  kuboImporterOptions,
  parseCid,
} from "../src/index.ts";
import ours from "./fixtures/kubo-cids.json" with { type: "json" };
import published from "./fixtures/kubo-published-cids.json" with { type: "json" };
import { kuboDeterministicBuffer, kuboDeterministicBytes } from "./support/kubo-deterministic-bytes.ts";

type PublishedCase = {
  name: string;
  input: { text?: string; seed?: string; size?: number };
  settings: KuboImportParameters;
  cid: string;
};

const inputOf = ({ input }: PublishedCase) =>
  input.text !== undefined
    ? [new TextEncoder().encode(input.text)]
    : kuboDeterministicBytes(input.size ?? 0, input.seed ?? "");

async function importWith(content: Iterable<Uint8Array>, settings: KuboImportParameters): Promise<string> {
  const discard = { put: (cid: CID) => cid };
  let root: CID | undefined;
  for await (const entry of importer([{ content }], discard, kuboImporterOptions(settings))) root = entry.cid;
  return String(root);
}

describe("Kubo compatibility", () => {
  test.each(published.cases as PublishedCase[])("interop: the importer reproduces Kubo's $name", async (kuboCase) => {
    expect(await importWith(inputOf(kuboCase), kuboCase.settings)).toBe(kuboCase.cid);
  });

  test.each(ours.cases)("default: computeCid of the $name input ($size bytes) is the fixture CID", async (fixture) => {
    expect(await computeCid(kuboDeterministicBuffer(fixture.size, ours.input.seed))).toBe(fixture.cid);
  });

  test("behavior: a stream of odd-sized chunks gives the same CID as one buffer", async () => {
    const fiveMib = ours.cases.find((fixture) => fixture.name === "five-mib");
    if (!fiveMib) throw new Error("five-mib fixture missing");
    const stream = kuboDeterministicBytes(fiveMib.size, ours.input.seed, 100_003);
    expect(await computeCid(stream)).toBe(fiveMib.cid);
  });

  test("behavior: content up to one chunk is a single raw block, bafkrei + its SHA-256", async () => {
    for (const fixture of ours.cases.filter((c) => c.size <= 262_144)) {
      const bytes = kuboDeterministicBuffer(fixture.size, ours.input.seed);
      const digest = createDigest(sha256.code, createHash("sha256").update(bytes).digest());
      expect(CID.createV1(raw.code, digest).toString()).toBe(fixture.cid);
    }
  });

  test("behavior: one byte past a chunk makes a dag-pb root (bafybei…)", () => {
    const overOneChunk = ours.cases.find((fixture) => fixture.size === 262_145);
    expect(overOneChunk?.cid).toMatch(/^bafybei/);
  });
});

describe("parseCid", () => {
  test("default: parses CIDv1 and CIDv0", () => {
    expect(parseCid("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e").version).toBe(1);
    expect(parseCid("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD").version).toBe(0);
  });

  test("behavior: canonicalCid spells a CIDv0 as its CIDv1 in base32", () => {
    // Kubo's CIDv0 and CIDv1-without-raw-leaves CIDs for "hello world" (add_test.go): the same dag-pb block.
    expect(canonicalCid("Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD")).toBe(
      "bafybeihykld7uyxzogax6vgyvag42y7464eywpf55gxi5qpoisibh3c5wa",
    );
  });

  test.each([
    ["empty", ""],
    ["not a CID", "hello"],
    ["truncated", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5"],
    ["trailing garbage", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5eaa"],
    ["surrounding whitespace", " bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"],
    ["a gateway path", "/ipfs/bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"],
    ["too long", `b${"a".repeat(300)}`],
    ["a CIDv0 with a bad checksum character", "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyf0"],
  ])("error: %s is an InvalidCidError", (_case, text) => {
    expect(() => parseCid(text)).toThrow(InvalidCidError);
  });
});
