import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { OPENAPI_JSON_PATH } from "./openapi.ts";

/**
 * `GET /docs`: Swagger UI over `/api/openapi.json`, served from the local `swagger-ui-dist` package (no CDN). Assets
 * carry a hash of their content in their name, so they can be cached for a year and a new version is a new URL. The
 * page's CSP allows scripts and styles from our origin only: the start-up code is one of those assets, not inline.
 */

const ASSETS_PATH = "/docs/assets";
const ONE_YEAR = 365 * 24 * 60 * 60;

type Asset = {
  name: string;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
  gzipped?: Promise<Uint8Array<ArrayBuffer>>;
};

const gzipAsync = promisify(gzip);

/** Our own start-up script: Swagger UI with the base layout (no URL bar), no calls to the public validator. */
const initScript = `"use strict";
window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(OPENAPI_JSON_PATH)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
});
`;

const pageStyle = "html { overflow-y: scroll; } body { margin: 0; background: #fafafa; }\n";

function asset(file: string, contentType: string, content: Buffer): Asset {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 16);
  const dot = file.lastIndexOf(".");
  return { name: `${file.slice(0, dot)}.${hash}${file.slice(dot)}`, contentType, body: new Uint8Array(content) };
}

type DocsSite = { page: string; assets: Map<string, Asset> };
let site: DocsSite | undefined;

/** Reads swagger-ui-dist once per process; every app built in it serves the same bytes. */
function loadSite(): DocsSite {
  const distDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const read = (file: string) => readFileSync(join(distDir, file));
  const css = asset("swagger-ui.css", "text/css; charset=utf-8", read("swagger-ui.css"));
  const bundle = asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8", read("swagger-ui-bundle.js"));
  const style = asset("docs.css", "text/css; charset=utf-8", Buffer.from(pageStyle));
  const init = asset("docs.js", "text/javascript; charset=utf-8", Buffer.from(initScript));
  const url = (a: Asset) => `${ASSETS_PATH}/${a.name}`;
  // Deferred scripts run in order once the document is parsed, so the init script finds the bundle and #swagger-ui.
  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>certchain API reference</title>
<link rel="stylesheet" href="${url(css)}">
<link rel="stylesheet" href="${url(style)}">
<script src="${url(bundle)}" defer></script>
<script src="${url(init)}" defer></script>
</head>
<body>
<noscript><p>This reference needs JavaScript. The OpenAPI document itself is at <a href="${OPENAPI_JSON_PATH}">${OPENAPI_JSON_PATH}</a>.</p></noscript>
<div id="swagger-ui"></div>
</body>
</html>
`;
  return { page, assets: new Map([css, bundle, style, init].map((a) => [a.name, a])) };
}

const docsPolicy = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    // swagger-ui.css draws its icons as data: SVGs.
    imgSrc: ["'self'", "data:"],
    // The document, and "Try it out" calls to this API.
    connectSrc: ["'self'"],
    formAction: ["'none'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
});

/** Mounted at `/docs`: the page, and its assets under `/docs/assets/`. */
export function createDocsRoutes(): Hono {
  site ??= loadSite();
  const { page, assets } = site;
  return new Hono()
    .use(docsPolicy)
    .get("/", (c) => {
      c.header("cache-control", "no-cache");
      return c.html(page);
    })
    .get("/assets/:name", async (c) => {
      const found = assets.get(c.req.param("name"));
      if (!found) return c.json({ error: { code: "NOT_FOUND", message: "No such asset" } }, 404);
      c.header("content-type", found.contentType);
      c.header("cache-control", `public, max-age=${ONE_YEAR}, immutable`);
      c.header("vary", "accept-encoding");
      if (!/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) return c.body(found.body);
      // Compressed once, on first use, off the event loop: the bundle shrinks from ~1.7 MB to ~0.5 MB.
      found.gzipped ??= gzipAsync(found.body).then((zipped) => new Uint8Array(zipped));
      c.header("content-encoding", "gzip");
      return c.body(await found.gzipped);
    });
}
