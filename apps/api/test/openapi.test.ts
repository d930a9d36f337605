import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { accessOf, openApiPath } from "../src/http/openapi.ts";
import { restRoutes } from "../src/http/rest.ts";
import { createTestApi, type TestApi } from "./helpers.ts";
import { access } from "./procedure-access.ts";

/** The OpenAPI document at `/api/openapi.json` and the reference page at `/docs`. */
let api: TestApi;
// biome-ignore lint/suspicious/noExplicitAny: the served JSON, whose shape each test asserts
let document: any;
let documentResponse: Response;

beforeAll(async () => {
  api = await createTestApi();
  documentResponse = await api.app.request("/api/openapi.json");
  document = await documentResponse.clone().json();
});
afterAll(() => api.close());

type Parameter = { name: string; in: string; required?: boolean; schema: { type?: string | string[] } };
const operationOf = (route: (typeof restRoutes)[number]) => document.paths[openApiPath(route)]?.[route.method];
const parametersOf = (route: (typeof restRoutes)[number], where: string): Parameter[] =>
  (operationOf(route)?.parameters ?? []).filter((parameter: Parameter) => parameter.in === where);

describe("/api/openapi.json", () => {
  test("default: a valid OpenAPI 3.1 document", async () => {
    expect(documentResponse.status).toBe(200);
    expect(documentResponse.headers.get("content-type")).toMatch(/^application\/json/);
    expect(document.openapi).toBe("3.1.0");
    const result = await new Validator().validate(structuredClone(document));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  test("behavior: revalidation by ETag answers 304", async () => {
    const etag = documentResponse.headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await api.app.request("/api/openapi.json", { headers: { "if-none-match": etag ?? "" } });
    expect(again.status).toBe(304);
  });

  test("behavior: every REST route appears with its method, procedure and path parameters", () => {
    const operations = Object.values(document.paths).flatMap((item) => Object.keys(item as object));
    expect(operations).toHaveLength(restRoutes.length);
    for (const route of restRoutes) {
      const operation = operationOf(route);
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      expect(operation.operationId).toBe(route.procedure);
      expect(operation.summary).toBe(route.summary);
      expect(operation.responses["200"].content["application/json"].schema).toBeDefined();
      const pathParameters = parametersOf(route, "path");
      expect(pathParameters.map((p) => p.name).sort()).toEqual(Object.keys(route.params ?? {}).sort());
      for (const parameter of pathParameters)
        expect(parameter).toMatchObject({ required: true, schema: { type: "integer" } });
    }
    expect(Object.keys(document.paths)).toContain("/api/certificates/{id}");
  });

  test("behavior: query routes take their input fields as query parameters, numbers exactly where REST converts", () => {
    for (const route of restRoutes.filter((r) => r.input === "query")) {
      const query = parametersOf(route, "query");
      expect(query.length, route.path).toBeGreaterThan(0);
      const numeric = query.filter((p) => p.schema.type === "integer" || p.schema.type === "number").map((p) => p.name);
      expect(numeric.sort(), `${route.path}: numeric query parameters`).toEqual([...(route.numeric ?? [])].sort());
      expect(operationOf(route).requestBody).toBeUndefined();
    }
  });

  test("behavior: inputs with defaults and transforms are described as a client sends them", () => {
    const list = restRoutes.find((r) => r.procedure === "certificates.list");
    if (!list) throw new Error("no certificates.list route");
    const byName = Object.fromEntries(parametersOf(list, "query").map((p) => [p.name, p]));
    // A lowercasing transform: the client sends any string the refinement accepts.
    expect(byName.owner).toMatchObject({ schema: { type: "string" } });
    expect(byName.owner?.required).toBeFalsy();
    expect(byName.limit).toMatchObject({ schema: { type: "integer", default: 20, maximum: 100 } });
    expect(byName.limit?.required).toBeFalsy();
  });

  test("behavior: access follows the procedure builders, and agrees with the authorization matrix's table", () => {
    // authorization.test.ts checks that the table lists every procedure; here, that the builders say the same.
    for (const [path, entry] of Object.entries(access)) expect(accessOf(path), path).toBe(entry.level);
    const signedIn = [{ bearerAuth: [] }, { cookieAuth: [] }];
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["bearerAuth", "cookieAuth"]);
    for (const route of restRoutes) {
      const operation = operationOf(route);
      const level = accessOf(route.procedure);
      expect(operation.security, route.path).toEqual(level === "public" ? [] : signedIn);
      if (level !== "public") expect(operation.responses["401"], route.path).toBeDefined();
      if (level === "issuer" || level === "admin") expect(operation.responses["403"], route.path).toBeDefined();
    }
  });

  test("behavior: bodies are JSON, uploads are multipart with a binary document or JSON without one", () => {
    for (const route of restRoutes) {
      const body = operationOf(route).requestBody;
      if (route.input === "json") expect(Object.keys(body.content), route.path).toEqual(["application/json"]);
      if (route.input === "form") {
        expect(Object.keys(body.content).sort(), route.path).toEqual(["application/json", "multipart/form-data"]);
        const multipart = body.content["multipart/form-data"].schema;
        expect(multipart.properties.document).toMatchObject({ type: "string", format: "binary" });
        expect(body.content["application/json"].schema.properties.document).toBeUndefined();
      }
      if (route.params && body) {
        // Path parameters are not asked for again in the body.
        for (const field of Object.values(route.params)) {
          expect(body.content["application/json"].schema.properties[field], route.path).toBeUndefined();
        }
      }
    }
  });

  test("behavior: mutations that take an idempotency key document the Idempotency-Key header as optional", () => {
    const keyed = restRoutes.filter((route) => {
      const body = operationOf(route).requestBody?.content["application/json"]?.schema;
      return body?.properties?.idempotencyKey !== undefined;
    });
    expect(keyed.map((r) => r.procedure)).toContain("market.buy");
    for (const route of keyed) {
      const [header] = parametersOf(route, "header");
      expect(header, route.path).toMatchObject({ name: "Idempotency-Key", schema: { type: "string" } });
      expect(header?.required).toBeFalsy();
    }
  });

  test("behavior: errors share one shape, and every operation documents 500", () => {
    expect(document.components.schemas.Error).toMatchObject({
      type: "object",
      required: ["error"],
      properties: { error: { required: ["code", "message"] } },
    });
    for (const route of restRoutes) {
      expect(operationOf(route).responses["500"], route.path).toEqual({
        $ref: "#/components/responses/INTERNAL_SERVER_ERROR",
      });
    }
  });
});

describe("/docs", () => {
  const swaggerUiDir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

  async function page(): Promise<{ response: Response; html: string; assets: string[] }> {
    const response = await api.app.request("/docs");
    const html = await response.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
    return { response, html, assets };
  }

  test("default: an HTML page whose CSP allows only our own scripts and styles", async () => {
    const { response, html } = await page();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toMatch(/https?:/);
    // No inline script: every <script> loads a file from our origin.
    expect([...html.matchAll(/<script\b[^>]*>/g)].every((m) => /\ssrc="\/docs\/assets\//.test(m[0]))).toBe(true);
    expect(html).toContain('<div id="swagger-ui"></div>');
  });

  test("behavior: the page's scripts and styles are served by us, with long caching", async () => {
    const { assets } = await page();
    expect(assets.some((a) => /swagger-ui-bundle\.[0-9a-f]+\.js$/.test(a))).toBe(true);
    expect(assets.some((a) => /swagger-ui\.[0-9a-f]+\.css$/.test(a))).toBe(true);
    for (const asset of assets) {
      const response = await api.app.request(asset);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get("content-type")).toMatch(asset.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    }
    const init = assets.find((a) => /\/docs\.[0-9a-f]+\.js$/.test(a)) ?? "";
    expect(await (await api.app.request(init)).text()).toContain('"/api/openapi.json"');
  });

  test("behavior: the bundle is swagger-ui-dist's own file, gzipped for clients that accept it", async () => {
    const { assets } = await page();
    const bundle = assets.find((a) => a.includes("swagger-ui-bundle")) ?? "";
    const original = readFileSync(join(swaggerUiDir, "swagger-ui-bundle.js"));
    const plain = Buffer.from(await (await api.app.request(bundle)).arrayBuffer());
    expect(plain.equals(original)).toBe(true);
    const gzipped = await api.app.request(bundle, { headers: { "accept-encoding": "gzip, br" } });
    expect(gzipped.headers.get("content-encoding")).toBe("gzip");
    const compressed = Buffer.from(await gzipped.arrayBuffer());
    expect(compressed.length).toBeLessThan(original.length / 2);
    expect(gunzipSync(compressed).equals(original)).toBe(true);
  });

  test("error: an unknown asset is 404", async () => {
    const response = await api.app.request("/docs/assets/swagger-ui-bundle.0000000000000000.js");
    expect(response.status).toBe(404);
  });
});
