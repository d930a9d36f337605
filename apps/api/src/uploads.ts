import {
  ContentNotFoundError,
  InvalidCidError,
  inspectUpload,
  UnsupportedContentTypeError,
  UploadTooLargeError,
} from "@certchain/storage";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context.ts";

export type Document = { bytes: Uint8Array; contentType: string };

/**
 * Procedures that take a file accept `multipart/form-data` (tRPC sends a `FormData` as is; the REST mirror passes the
 * parsed body) or a JSON object. This turns a `FormData` into a plain object for the same zod schema: text fields stay
 * text except those named in `numeric`, files stay `File`s. A field given twice is refused rather than guessed.
 */
export function formInput<T extends z.ZodType>(
  schema: T,
  numeric: readonly string[] = [],
): z.ZodType<z.output<T>, FormData | z.input<T>> {
  const parsed = z.preprocess((raw, ctx) => {
    if (!(raw instanceof FormData)) return raw;
    const fields: Record<string, unknown> = {};
    for (const [name, value] of raw.entries()) {
      if (name in fields) {
        ctx.addIssue({ code: "custom", path: [name], message: "is given more than once", input: raw });
        return z.NEVER;
      }
      fields[name] =
        numeric.includes(name) && typeof value === "string" && /^-?\d{1,16}$/.test(value) ? Number(value) : value;
    }
    return fields;
  }, schema);
  // zod types a preprocessed input as `unknown`; clients should see what they may send: the fields, or a form.
  return parsed as unknown as z.ZodType<z.output<T>, FormData | z.input<T>>;
}

/** A file part of a multipart body. */
export const fileInput = z.instanceof(File, { message: "must be a file (send the request as multipart/form-data)" });

/** Storage's upload errors as the API's: 413 and 415 with the checker's message. */
function asClientError(error: unknown): never {
  if (error instanceof UploadTooLargeError) throw new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: error.message });
  if (error instanceof UnsupportedContentTypeError) {
    throw new TRPCError({ code: "UNSUPPORTED_MEDIA_TYPE", message: error.message });
  }
  throw error;
}

/**
 * An uploaded file's bytes and its real type, checked against `UPLOAD_MAX_BYTES` and `UPLOAD_ALLOWED_TYPES` on the
 * bytes themselves (the declared type must agree when it says anything).
 */
export async function readUpload(ctx: Context, file: File): Promise<Document> {
  const policy = { maxBytes: ctx.deps.config.uploadMaxBytes, allowedTypes: ctx.deps.config.uploadAllowedTypes };
  // The size is known before reading: an oversized file is refused without buffering it.
  if (file.size > policy.maxBytes) asClientError(new UploadTooLargeError(file.size, policy.maxBytes));
  const bytes = new Uint8Array(await file.arrayBuffer());
  try {
    const { contentType } = await inspectUpload(bytes, file.type || undefined, policy);
    return { bytes, contentType };
  } catch (error) {
    asClientError(error);
  }
}

/** A document already in our content store (issuing the same file to many recipients needs one upload). */
export async function readStoredDocument(ctx: Context, cid: string): Promise<Document> {
  try {
    const info = await ctx.deps.storage.stat(cid);
    if (!info) throw new ContentNotFoundError(cid);
    const chunks: Uint8Array[] = [];
    for await (const chunk of await ctx.deps.storage.get(cid)) chunks.push(chunk);
    return { bytes: Buffer.concat(chunks), contentType: info.contentType };
  } catch (error) {
    if (error instanceof InvalidCidError) throw new TRPCError({ code: "BAD_REQUEST", message: error.message });
    if (error instanceof ContentNotFoundError) throw new TRPCError({ code: "NOT_FOUND", message: error.message });
    throw error;
  }
}
