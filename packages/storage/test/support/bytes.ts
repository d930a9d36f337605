/** Concatenates a stream of chunks. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * Byte equality via `Buffer.equals`: vitest's `toEqual` walks typed arrays element by element, which takes tens of
 * seconds for a few MiB. On a mismatch the message names the length and the first differing offset.
 */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  if (Buffer.from(actual).equals(expected)) return "same";
  const length = Math.min(actual.length, expected.length);
  let offset = 0;
  while (offset < length && actual[offset] === expected[offset]) offset++;
  return `differ: ${actual.length} bytes vs ${expected.length} expected, first difference at offset ${offset}`;
}
