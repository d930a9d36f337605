/** Small real files of each kind an uploader might send, named by what they are. */

const text = (value: string) => new TextEncoder().encode(value);

/** A valid 1×1 PNG. */
export const onePixelPng = new Uint8Array(
  Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    "base64",
  ),
);

/** The start of a JFIF JPEG (SOI, APP0 header) and its end marker. */
export const jpegHeader = new Uint8Array([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
  0x00, 0xff, 0xd9,
]);

export const minimalPdf = text(
  "%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n" +
    "trailer <</Root 1 0 R>>\n%%EOF\n",
);

export const diplomaJson = text('{"degree":"BSc Computer Science","year":2026}');

export const htmlPageWithScript = text(
  "<!DOCTYPE html>\n<html><head><title>Diploma</title></head><body><script>fetch('/api/session')</script></body></html>\n",
);

export const svgWithScript = text(
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>\n',
);

export const truncatedJson = text('{"degree": "BSc');
