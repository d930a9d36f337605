/**
 * Writes test/fixtures/kubo-cids.json: the CIDs `ipfs add --cid-version 1` gives the fixture inputs, computed with
 * this package's importer configuration (ipfs-unixfs-importer set up as Kubo). Run it only when adding a case; the
 * committed file is the reference the tests hold the code to.
 *
 *   npx tsx packages/storage/scripts/make-kubo-fixtures.ts [--inputs DIR]
 *
 * `--inputs DIR` also writes each input as DIR/<name>.bin, so the CIDs can be checked against a real Kubo:
 *   for f in DIR/*.bin; do ipfs add --cid-version 1 --only-hash -Q "$f"; done
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { computeCid } from "../src/compute-cid.ts";
import { kuboDeterministicBuffer } from "../test/support/kubo-deterministic-bytes.ts";

const SEED = "certchain-storage-fixtures";
const KIB = 1024;

const cases = [
  { name: "empty", size: 0 },
  { name: "one-byte", size: 1 },
  { name: "one-chunk", size: 256 * KIB },
  { name: "one-chunk-plus-one-byte", size: 256 * KIB + 1 },
  { name: "five-mib", size: 5 * KIB * KIB },
];

const { values } = parseArgs({ options: { inputs: { type: "string" } } });
const fixturePath = join(dirname(fileURLToPath(import.meta.url)), "../test/fixtures/kubo-cids.json");

const results = [];
for (const { name, size } of cases) {
  const bytes = kuboDeterministicBuffer(size, SEED);
  results.push({ name, size, cid: await computeCid(bytes) });
  if (values.inputs) {
    await mkdir(values.inputs, { recursive: true });
    await writeFile(join(values.inputs, `${name}.bin`), bytes);
  }
}

const fixture = {
  $comment: [
    "CIDs that `ipfs add --cid-version 1` (Kubo defaults: CIDv1, raw leaves, 256 KiB fixed-size chunks, balanced",
    "layout, at most 174 links per node) gives each input. Made by packages/storage/scripts/make-kubo-fixtures.ts;",
    "see test/fixtures/README.md for how the inputs are generated and how to check them with Kubo.",
  ].join(" "),
  input: {
    generator:
      "ChaCha20 keystream, key = SHA-256(seed), 96-bit zero nonce, counter 0 (Kubo's DeterministicRandomReaderBytes)",
    seed: SEED,
    note: "each input is the first `size` bytes of that one stream",
  },
  cases: results,
};
await writeFile(fixturePath, `${JSON.stringify(fixture, null, 2)}\n`);
console.log(`Wrote ${results.length} cases to ${fixturePath}`);
