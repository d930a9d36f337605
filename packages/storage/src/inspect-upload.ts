import { fileTypeFromBuffer, supportedMimeTypes } from "file-type";
import { UnsupportedContentTypeError, UploadTooLargeError } from "./errors.ts";
import { JPEG, JSON_TYPE, normalizeMediaType, PDF, PNG } from "./media-types.ts";

export type UploadPolicy = {
  /** Largest accepted upload in bytes (`UPLOAD_MAX_BYTES`); default 10 MiB. */
  maxBytes?: number | undefined;
  /** Accepted types, as found in the bytes (`UPLOAD_ALLOWED_TYPES`); default PDF, PNG, JPEG, JSON. */
  allowedTypes?: readonly string[] | undefined;
};

export type InspectedUpload = {
  /** The type the bytes really are; store and serve the file with this one, not the declared one. */
  contentType: string;
  size: number;
};

export const DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_ALLOWED_UPLOAD_TYPES: readonly string[] = [PDF, PNG, JPEG, JSON_TYPE];

/** Declared types that say nothing (what browsers send for an unknown extension); the bytes decide alone. */
const UNINFORMATIVE_TYPES: ReadonlySet<string> = new Set(["application/octet-stream", "binary/octet-stream"]);

const LABELS: Readonly<Record<string, string>> = {
  [PDF]: "PDF",
  [PNG]: "PNG",
  [JPEG]: "JPEG",
  [JSON_TYPE]: "JSON",
  "text/html": "HTML",
  "image/svg+xml": "SVG",
  "application/xml": "XML",
};
const label = (type: string) => LABELS[type] ?? type;

/**
 * Checks an upload before it is stored: size first, then what the bytes really are (magic numbers, via `file-type`;
 * JSON, which has none, by parsing). The declared type must agree when it says anything, so a page renamed to
 * `.pdf` is refused. Throws `UploadTooLargeError` (413) or `UnsupportedContentTypeError` (415), each with a message
 * the uploader can act on.
 */
export async function inspectUpload(
  bytes: Uint8Array,
  declaredType: string | undefined,
  policy: UploadPolicy = {},
): Promise<InspectedUpload> {
  const maxBytes = policy.maxBytes ?? DEFAULT_UPLOAD_MAX_BYTES;
  const allowedTypes = checkAllowedTypes(policy.allowedTypes ?? DEFAULT_ALLOWED_UPLOAD_TYPES);
  if (bytes.length > maxBytes) throw new UploadTooLargeError(bytes.length, maxBytes);

  const declared = normalizeMediaType(declaredType);
  const detected = await detectContentType(bytes);
  const allowedList = allowedTypes.map(label).join(", ");
  const refuse = (message: string) =>
    new UnsupportedContentTypeError(message, detected, declared ?? declaredType, allowedTypes);

  if (!detected) throw refuse(`The file's type could not be recognised; accepted types are ${allowedList}`);
  if (!allowedTypes.includes(detected)) {
    throw refuse(`The file is ${label(detected)}, which is not accepted; accepted types are ${allowedList}`);
  }
  if (declared && !UNINFORMATIVE_TYPES.has(declared) && declared !== detected) {
    throw refuse(`The file was sent as ${label(declared)} but its content is ${label(detected)}`);
  }
  return { contentType: detected, size: bytes.length };
}

/**
 * The type the bytes are: a binary format by its magic number, else JSON if it parses as a JSON object or array,
 * else markup (HTML, SVG, XML) so a refusal can name it; `undefined` when nothing matches.
 */
export async function detectContentType(bytes: Uint8Array): Promise<string | undefined> {
  const magic = await fileTypeFromBuffer(bytes);
  // file-type stops at "XML" for any document with an `<?xml` prolog; say which kind, so a refusal names SVG.
  if (magic && magic.mime !== "application/xml") return magic.mime;
  const text = decodeUtf8(bytes);
  if (text === undefined) return magic?.mime;
  if (!magic && isJsonDocument(text)) return JSON_TYPE;
  return sniffMarkup(text) ?? magic?.mime;
}

/** An allow-list may only name types the bytes can prove; SVG, HTML or plain text never can, so they never pass. */
function checkAllowedTypes(types: readonly string[]): string[] {
  return types.map((type) => {
    const normalized = normalizeMediaType(type);
    if (!normalized || (normalized !== JSON_TYPE && !supportedMimeTypes.has(normalized))) {
      throw new TypeError(`upload type "${type}" cannot be recognised from a file's bytes, so it cannot be allowed`);
    }
    return normalized;
  });
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
}

function isJsonDocument(text: string): boolean {
  const start = text.trimStart()[0];
  if (start !== "{" && start !== "[") return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function sniffMarkup(text: string): string | undefined {
  const head = text.slice(0, 4096).trimStart().toLowerCase();
  if (!head.startsWith("<")) return undefined;
  if (/<svg[\s>]/.test(head)) return "image/svg+xml";
  if (/^<!doctype html|<html[\s>]|<head[\s>]|<body[\s>]|<script[\s>]/.test(head)) return "text/html";
  if (head.startsWith("<?xml")) return "application/xml";
  return undefined;
}
