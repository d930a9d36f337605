import { CID } from "multiformats/cid";
import { InvalidCidError } from "./errors.ts";

/** Far above any sha2-256 CID (59 characters in base32) yet small enough that nobody makes us decode a novel. */
const MAX_CID_TEXT_LENGTH = 256;

/**
 * Parses a CID from text as it arrives in a URL or a request (`bafy…`, `bafk…`, or a CIDv0 `Qm…`). Throws
 * `InvalidCidError` for anything else, including surrounding whitespace and `/ipfs/` paths: callers strip those first.
 */
export function parseCid(text: string): CID {
  if (text.length === 0) throw new InvalidCidError(text, "it is empty");
  if (text.length > MAX_CID_TEXT_LENGTH) throw new InvalidCidError(text, "it is too long");
  try {
    return CID.parse(text);
  } catch (error) {
    throw new InvalidCidError(text, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/**
 * The one spelling this store uses for a CID: CIDv1 in base32 (what `ipfs add --cid-version 1` prints), so a CIDv0
 * and its CIDv1 equivalent name the same stored content.
 */
export function cidToText(cid: CID): string {
  return cid.toV1().toString();
}

/** `parseCid` for text, pass-through for a CID, then the canonical spelling. */
export function canonicalCid(cid: string | CID): string {
  return cidToText(typeof cid === "string" ? parseCid(cid) : cid);
}
