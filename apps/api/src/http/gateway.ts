import { type ContentStore, canonicalCid, InvalidCidError, isInlineSafe } from "@certchain/storage";
import { Hono } from "hono";

/** Content under a CID never changes, so caches may keep it for a year without asking again. */
const IMMUTABLE = "public, max-age=31536000, immutable";

type Range = { offset: number; length: number } | "unsatisfiable" | undefined;

/** A single `bytes=` range (the only form we serve); multi-range and malformed headers are ignored as RFC 9110 allows. */
function parseRange(header: string | undefined, size: number): Range {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  const [, startText = "", endText = ""] = match;
  if (startText === "") {
    // Suffix range: the last N bytes.
    const suffix = Math.min(Number(endText), size);
    return suffix === 0 ? "unsatisfiable" : { offset: size - suffix, length: suffix };
  }
  const start = Number(startText);
  const end = endText === "" ? size - 1 : Math.min(Number(endText), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { offset: start, length: end - start + 1 };
}

function toStream(chunks: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/**
 * `GET /ipfs/:cid`: documents and metadata by CID, streamed with their content type. Only PDF, PNG, JPEG and JSON are
 * shown inline; anything else is a download, and `nosniff` plus a sandboxing CSP mean an uploaded HTML or SVG file can
 * never run script on our origin.
 */
export function createGatewayRoutes(store: ContentStore): Hono {
  return new Hono().get("/:cid", async (c) => {
    let cid: string;
    try {
      cid = canonicalCid(c.req.param("cid"));
    } catch (error) {
      if (error instanceof InvalidCidError)
        return c.json({ error: { code: "BAD_REQUEST", message: error.message } }, 400);
      throw error;
    }
    const info = await store.stat(cid);
    if (!info) return c.json({ error: { code: "NOT_FOUND", message: `Nothing is stored under ${cid}` } }, 404);

    const etag = `"${cid}"`;
    const headers: Record<string, string> = {
      "Cache-Control": IMMUTABLE,
      ETag: etag,
      "Accept-Ranges": "bytes",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
      "Content-Type": info.contentType,
      "Content-Disposition": isInlineSafe(info.contentType) ? "inline" : `attachment; filename="${cid}"`,
    };
    if (
      c.req
        .header("if-none-match")
        ?.split(/\s*,\s*/)
        .includes(etag)
    )
      return c.body(null, 304, headers);

    const range = parseRange(c.req.header("range"), info.size);
    if (range === "unsatisfiable") {
      return c.body(null, 416, { ...headers, "Content-Range": `bytes */${info.size}` });
    }
    if (range) {
      const body = toStream(await store.get(cid, range));
      return c.body(body, 206, {
        ...headers,
        "Content-Range": `bytes ${range.offset}-${range.offset + range.length - 1}/${info.size}`,
        "Content-Length": String(range.length),
      });
    }
    return c.body(toStream(await store.get(cid)), 200, { ...headers, "Content-Length": String(info.size) });
  });
}
