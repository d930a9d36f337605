import { canonicalCid, documentCidOf, readCertificateMetadata } from "@certchain/storage";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { ApiDeps } from "../context.ts";
import { createContextInner } from "../context.ts";
import { VerificationPage, VerifyFormPage } from "../pages/verify-page.tsx";
import { verifyByTokenId } from "../routers/verify.ts";

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

/**
 * `GET /verify` and `/verify/:tokenId`: server-rendered pages anyone can use, with no JavaScript at all (the CSP
 * forbids scripts). Every value is escaped by JSX.
 */
export function createVerifyPages(deps: ApiDeps): Hono {
  return new Hono()
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
      if (tokenId === undefined || tokenId === "") return c.html(<VerifyFormPage />);
      if (!isTokenId(tokenId)) {
        return c.html(
          <VerifyFormPage tokenId={tokenId} error="A certificate number is a whole number from 1 up." />,
          400,
        );
      }
      return c.redirect(`/verify/${tokenId}`, 303);
    })
    .get("/:tokenId", async (c) => {
      const tokenId = c.req.param("tokenId");
      if (!isTokenId(tokenId)) {
        return c.html(
          <VerifyFormPage tokenId={tokenId} error="A certificate number is a whole number from 1 up." />,
          400,
        );
      }
      const result = await verifyByTokenId(createContextInner(deps), Number(tokenId));
      const documentCid = result.onChain ? await documentCidFor(deps, result.onChain.cid) : undefined;
      return c.html(
        <VerificationPage result={result} documentCid={documentCid} />,
        result.verdict === "unknown" ? 404 : 200,
      );
    });
}
