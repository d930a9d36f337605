import { describe, expect, test } from "vitest";
import {
  DEFAULT_UPLOAD_MAX_BYTES,
  inspectUpload,
  isInlineSafe,
  JPEG,
  JSON_TYPE,
  PDF,
  PNG,
  UnsupportedContentTypeError,
  UploadTooLargeError,
} from "../src/index.ts";
import {
  diplomaJson,
  htmlPageWithScript,
  jpegHeader,
  minimalPdf,
  onePixelPng,
  svgWithScript,
  truncatedJson,
} from "./support/sample-files.ts";

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UnsupportedContentTypeError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
};

describe("inspectUpload", () => {
  test.each([
    ["PDF", minimalPdf, PDF],
    ["PNG", onePixelPng, PNG],
    ["JPEG", jpegHeader, JPEG],
    ["JSON", diplomaJson, JSON_TYPE],
  ])("default: a %s sent as itself is accepted", async (_kind, bytes, type) => {
    expect(await inspectUpload(bytes, type)).toEqual({ contentType: type, size: bytes.length });
  });

  test("behavior: a declared type with parameters, an alias, or none at all is fine", async () => {
    expect((await inspectUpload(diplomaJson, "application/json; charset=utf-8")).contentType).toBe(JSON_TYPE);
    expect((await inspectUpload(jpegHeader, "image/jpg")).contentType).toBe(JPEG);
    expect((await inspectUpload(onePixelPng, undefined)).contentType).toBe(PNG);
    expect((await inspectUpload(minimalPdf, "application/octet-stream")).contentType).toBe(PDF);
  });

  test("error: one byte over the limit is an UploadTooLargeError", async () => {
    const bytes = new Uint8Array(DEFAULT_UPLOAD_MAX_BYTES + 1);
    const error = await inspectUpload(bytes, PDF).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadTooLargeError);
    expect(error).toMatchObject({ size: DEFAULT_UPLOAD_MAX_BYTES + 1, maxBytes: DEFAULT_UPLOAD_MAX_BYTES });
    expect((error as Error).message).toBe("The file is 10.0 MiB, over the 10 MiB limit");
  });

  test("behavior: the limit is configurable, and exactly the limit passes", async () => {
    await expect(inspectUpload(minimalPdf, PDF, { maxBytes: minimalPdf.length })).resolves.toBeDefined();
    await expect(inspectUpload(minimalPdf, PDF, { maxBytes: 100 })).rejects.toThrow(
      `The file is ${minimalPdf.length} bytes, over the 100 bytes limit`,
    );
  });

  test("error: an HTML page declared as a PDF is refused", async () => {
    const error = await refusal(inspectUpload(htmlPageWithScript, PDF));
    expect(error.message).toBe("The file is HTML, which is not accepted; accepted types are PDF, PNG, JPEG, JSON");
    expect(error).toMatchObject({ detectedType: "text/html", declaredType: PDF });
  });

  test("error: an SVG with a script is refused, whatever it claims", async () => {
    for (const declared of ["image/svg+xml", PNG, undefined]) {
      const error = await refusal(inspectUpload(svgWithScript, declared));
      expect(error.message).toMatch(/^The file is SVG, which is not accepted/);
    }
  });

  test("error: a real PNG declared as a PDF is refused as a mismatch", async () => {
    const error = await refusal(inspectUpload(onePixelPng, PDF));
    expect(error.message).toBe("The file was sent as PDF but its content is PNG");
  });

  test("error: bytes of no known type are refused", async () => {
    for (const bytes of [truncatedJson, new Uint8Array([0, 1, 2, 3]), new Uint8Array()]) {
      const error = await refusal(inspectUpload(bytes, JSON_TYPE));
      expect(error.message).toBe("The file's type could not be recognised; accepted types are PDF, PNG, JPEG, JSON");
    }
  });

  test("behavior: a narrower allow-list refuses the other types", async () => {
    const error = await refusal(inspectUpload(minimalPdf, PDF, { allowedTypes: [PNG] }));
    expect(error.message).toBe("The file is PDF, which is not accepted; accepted types are PNG");
  });

  test("error: an allow-list naming a type bytes cannot prove is a programming error", async () => {
    await expect(inspectUpload(minimalPdf, PDF, { allowedTypes: [PDF, "image/svg+xml"] })).rejects.toThrow(TypeError);
    await expect(inspectUpload(minimalPdf, PDF, { allowedTypes: ["text/html"] })).rejects.toThrow(TypeError);
  });
});

describe("isInlineSafe", () => {
  test.each([PDF, PNG, JPEG, JSON_TYPE, "application/json; charset=utf-8", "IMAGE/PNG", "image/jpg"])(
    "default: %s is served inline",
    (type) => expect(isInlineSafe(type)).toBe(true),
  );

  test.each([
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/plain",
    "application/xml",
    "application/octet-stream",
    "application/javascript",
    "",
    "nonsense",
    undefined,
  ])("behavior: %s is served as an attachment", (type) => expect(isInlineSafe(type)).toBe(false));
});
