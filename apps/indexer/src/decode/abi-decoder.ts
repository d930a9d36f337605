import { type AbiEvent, type AbiParameter, decodeEventLog, type Hex } from "viem";

/*
 * Event decoding compiled once per event from the ABI: each parameter becomes a function that slices its word out of
 * the log's topics or data. viem's generic `decodeEventLog` looks the event up, checks and converts every parameter
 * through several layers on every call, which made it one of the backfill's hottest functions; this is the same
 * decoding specialised ahead of time for the types our contracts emit (addresses, integers, bools, fixed bytes,
 * strings and bytes). Anything else, or any log that does not fit its event's shape, goes through viem, so a
 * malformed log still fails the way viem fails.
 */

export type DecodedArgs = Record<string, unknown>;
export type CompiledEventDecoder = (topics: readonly Hex[], data: Hex) => DecodedArgs;

type WordReader = (word: string) => unknown;
/** Reads one parameter; returns `undefined` when the log does not fit (then viem decodes it, or throws). */
type FieldReader = (topics: readonly Hex[], data: Hex) => unknown;

const WORD = 64;
const ZERO_WORD = "0".repeat(WORD);

/** `word` is 64 hex digits without `0x`. */
function staticReader(type: string): WordReader | undefined {
  if (type === "address") return (word) => `0x${word.slice(24).toLowerCase()}`;
  if (type === "bool") return (word) => word !== ZERO_WORD;
  const integer = /^(u?)int(\d+)$/.exec(type);
  if (integer) {
    const bits = Number(integer[2]);
    return integer[1] === "u" ? (word) => BigInt(`0x${word}`) : (word) => BigInt.asIntN(bits, BigInt(`0x${word}`));
  }
  if (/^bytes([1-9]|[12]\d|3[0-2])$/.test(type)) {
    const size = Number(type.slice(5));
    return (word) => `0x${word.slice(0, size * 2).toLowerCase()}`;
  }
  return undefined;
}

/** A reader of the `index`-th head word of the data, or of the dynamic value it points at. */
function dataReader(parameter: AbiParameter, index: number): FieldReader | undefined {
  const start = 2 + index * WORD;
  const word = (data: Hex, at: number) => (data.length >= at + WORD ? data.slice(at, at + WORD) : undefined);
  const fixed = staticReader(parameter.type);
  if (fixed) {
    return (_topics, data) => {
      const value = word(data, start);
      return value === undefined ? undefined : fixed(value);
    };
  }
  if (parameter.type !== "string" && parameter.type !== "bytes") return undefined;
  const asString = parameter.type === "string";
  return (_topics, data) => {
    const offset = word(data, start);
    if (offset === undefined) return undefined;
    const lengthAt = 2 + Number(BigInt(`0x${offset}`)) * 2;
    const length = word(data, lengthAt);
    if (length === undefined) return undefined;
    const bytes = Number(BigInt(`0x${length}`));
    const from = lengthAt + WORD;
    if (data.length < from + bytes * 2) return undefined;
    const hex = data.slice(from, from + bytes * 2);
    return asString ? Buffer.from(hex, "hex").toString("utf8") : `0x${hex.toLowerCase()}`;
  };
}

/** An indexed parameter: its topic word (dynamic types are stored as their hash, which viem also returns). */
function topicReader(parameter: AbiParameter, topic: number): FieldReader | undefined {
  const dynamic = parameter.type === "string" || parameter.type === "bytes";
  const read = dynamic ? (word: string) => `0x${word.toLowerCase()}` : staticReader(parameter.type);
  if (!read) return undefined;
  return (topics) => {
    const value = topics[topic];
    return value === undefined || value.length !== WORD + 2 ? undefined : read(value.slice(2));
  };
}

/** Compiles `event` into a decoder of its logs' arguments by name. */
export function compileEventDecoder(event: AbiEvent): CompiledEventDecoder {
  const viemDecode: CompiledEventDecoder = (topics, data) =>
    decodeEventLog({ abi: [event], data, topics: topics as [Hex, ...Hex[]] }).args as DecodedArgs;
  const fields: Array<{ name: string; read: FieldReader }> = [];
  let topic = 1;
  let word = 0;
  for (const [i, parameter] of event.inputs.entries()) {
    const read = parameter.indexed ? topicReader(parameter, topic++) : dataReader(parameter, word++);
    // A type this decoder does not know (tuples, arrays): the whole event goes through viem.
    if (!read) return viemDecode;
    fields.push({ name: parameter.name ?? String(i), read });
  }
  const topicCount = topic;
  return (topics, data) => {
    if (topics.length !== topicCount) return viemDecode(topics, data);
    const args: DecodedArgs = {};
    for (const field of fields) {
      const value = field.read(topics, data);
      if (value === undefined) return viemDecode(topics, data);
      args[field.name] = value;
    }
    return args;
  };
}
