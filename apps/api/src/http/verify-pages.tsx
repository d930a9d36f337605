import { canonicalCid, documentCidOf, formatBytes, readCertificateMetadata } from "@certchain/storage";
import { TRPCError } from "@trpc/server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import type { ApiDeps } from "../context.ts";
import { createContextInner } from "../context.ts";
import { DocumentCheckPage } from "../pages/document-check-page.tsx";
import { VerificationPage, VerifyFormPage } from "../pages/verify-page.tsx";
import { verifyByTokenId, verifyDocument } from "../routers/verify.ts";

const TOKEN_ID = /^[1-9][0-9]{0,15}$/;
/** A token id we can look up: digits only, and exact as a JS number (no rounding of huge ids into other ones). */
const isTokenId = (text: string) => TOKEN_ID.test(text) && Number.isSafeInteger(Number(text));

/** The document behind a certificate's metadata, when we hold the metadata; verification never depends on it. */
async function documentCidFor(deps: ApiDeps, metadataCid: string): Promise<string | undefined> {
  try {
    return canonicalCid(documentCidOf(await readCertificateMetadata(deps.storage, metadataCid)));
  } catch {
    return undefined;
  }
}

const TOKEN_ID_ERROR = "A certificate number is a whole number from 1 up.";

/** The upload refusals the document form explains on the form itself, with their HTTP status. */
const UPLOAD_REFUSALS = { PAYLOAD_TOO_LARGE: 413, UNSUPPORTED_MEDIA_TYPE: 415 } as const;
const isUploadRefusal = (error: unknown): error is TRPCError & { code: keyof typeof UPLOAD_REFUSALS } =>
  error instanceof TRPCError && error.code in UPLOAD_REFUSALS;

/**
 * `GET /verify` and `/verify/:tokenId`: server-rendered pages anyone can use, with no JavaScript at all (the CSP
 * forbids scripts). Every value is escaped by JSX. `POST /verify/document` checks an uploaded file (multipart, up to
 * `maxUploadBodyBytes`, which `app.ts` sets for every upload path) and answers with a page too.
 */
export function createVerifyPages(deps: ApiDeps, options: { maxUploadBodyBytes: number }): Hono {
  const upload = { maxBytes: deps.config.uploadMaxBytes, allowedTypes: deps.config.uploadAllowedTypes };
  const tooLarge = `The file is over the ${formatBytes(upload.maxBytes)} limit.`;
  return (
    new Hono()
      .use(
        secureHeaders({
          contentSecurityPolicy: {
            defaultSrc: ["'none'"],
            styleSrc: ["'unsafe-inline'"],
            formAction: ["'self'"],
            frameAncestors: ["'none'"],
            baseUri: ["'none'"],
          },
        }),
      )
      .get("/", (c) => {
        const tokenId = c.req.query("tokenId")?.trim();
        if (tokenId === undefined || tokenId === "") return c.html(<VerifyFormPage upload={upload} />);
        if (!isTokenId(tokenId)) {
          return c.html(<VerifyFormPage upload={upload} tokenId={tokenId} error={TOKEN_ID_ERROR} />, 400);
        }
        return c.redirect(`/verify/${tokenId}`, 303);
      })
      // Reloading or bookmarking the answer to a document check lands on the forms.
      .get("/document", (c) => c.redirect("/verify", 303))
      .post(
        "/document",
        bodyLimit({
          maxSize: options.maxUploadBodyBytes,
          onError: (c) => c.html(<VerifyFormPage upload={upload} documentError={tooLarge} />, 413),
        }),
        async (c) => {
          const form = await c.req.formData().catch(() => undefined);
          const document = form?.get("document");
          const tokenIdText = form?.get("tokenId");
          const tokenId = typeof tokenIdText === "string" ? tokenIdText.trim() : "";
          const refuse = (documentError: string, status: 400 | 413 | 415) =>
            c.html(<VerifyFormPage upload={upload} documentTokenId={tokenId} documentError={documentError} />, status);
          // A file input left empty still sends a part: a file with no name and no bytes.
          if (!(document instanceof File) || (document.name === "" && document.size === 0)) {
            return refuse("Choose the document to check.", 400);
          }
          if (tokenId !== "" && !isTokenId(tokenId)) return refuse(TOKEN_ID_ERROR, 400);
          try {
            const ctx = createContextInner(deps);
            const result = await verifyDocument(ctx, document, tokenId === "" ? undefined : Number(tokenId));
            return c.html(<DocumentCheckPage result={result} fileName={document.name} upload={upload} />);
          } catch (error) {
            if (isUploadRefusal(error)) return refuse(error.message, UPLOAD_REFUSALS[error.code]);
            throw error;
          }
        },
      )
      .get("/:tokenId", async (c) => {
        const tokenId = c.req.param("tokenId");
        if (!isTokenId(tokenId)) {
          return c.html(<VerifyFormPage upload={upload} tokenId={tokenId} error={TOKEN_ID_ERROR} />, 400);
        }
        const result = await verifyByTokenId(createContextInner(deps), Number(tokenId));
        const documentCid = result.onChain ? await documentCidFor(deps, result.onChain.cid) : undefined;
        return c.html(
          <VerificationPage result={result} documentCid={documentCid} upload={upload} />,
          result.verdict === "unknown" ? 404 : 200,
        );
      })
  );
}
