/** The document types certchain accepts by default, as stored and served. */
export const PDF = "application/pdf";
export const PNG = "image/png";
export const JPEG = "image/jpeg";
export const JSON_TYPE = "application/json";

/**
 * Types a browser may render on our origin. None of them can run script in the page: PDF opens in the browser's
 * sandboxed viewer, images and JSON are inert. Anything else (HTML, SVG, XML, plain text a browser might sniff) is
 * served as an attachment, so an uploaded file can never act as a page of ours.
 */
const INLINE_SAFE_TYPES: ReadonlySet<string> = new Set([PDF, PNG, JPEG, JSON_TYPE]);

/** Names some clients send for the same types. */
const ALIASES: Readonly<Record<string, string>> = {
  "image/jpg": JPEG,
  "image/pjpeg": JPEG,
  "text/json": JSON_TYPE,
  "application/x-pdf": PDF,
};

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * `type/subtype` in lower case without parameters (`Application/JSON; charset=utf-8` → `application/json`), with
 * common aliases resolved; `undefined` for text that is not a media type.
 */
export function normalizeMediaType(text: string | undefined | null): string | undefined {
  if (!text) return undefined;
  const essence = (text.split(";", 1)[0] ?? "").trim().toLowerCase();
  if (!MEDIA_TYPE.test(essence)) return undefined;
  return ALIASES[essence] ?? essence;
}

/** True when the gateway may serve this type inline; false means `Content-Disposition: attachment`. */
export function isInlineSafe(contentType: string | undefined | null): boolean {
  const type = normalizeMediaType(contentType);
  return type !== undefined && INLINE_SAFE_TYPES.has(type);
}
