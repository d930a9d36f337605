import { Hono } from "hono";
import { etag } from "hono/etag";
import { z } from "zod";
import {
  createDocument,
  type oas31,
  type ZodOpenApiContentObject,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponsesObject,
} from "zod-openapi";
import { SESSION_COOKIE } from "../auth/credentials.ts";
import { appRouter } from "../root.ts";
import { adminProcedure, issuerProcedure, protectedProcedure } from "../trpc.ts";
import { type ProcedurePath, type RestRoute, restRoutes } from "./rest.ts";

/**
 * The OpenAPI 3.1 document of the REST mirror, built from `restRoutes` and the procedures' own zod schemas: request
 * schemas in zod's input view (before defaults and transforms: what a client sends), responses in the output view.
 * Nothing here restates a field, so the document cannot drift from what the procedures accept and return.
 */

export const OPENAPI_JSON_PATH = "/api/openapi.json";

/** The version of the REST surface described (not of the package); bumped on breaking changes. */
const API_VERSION = "1";

/** Who may call a procedure, read from the procedure builder it was made with (see `accessOf`). */
export type Access = "public" | "user" | "issuer" | "admin";

type ProcedureDef = {
  type: "query" | "mutation" | "subscription";
  inputs: unknown[];
  output?: unknown;
  middlewares: unknown[];
};

/** The check each builder adds on top of its parent, most specific first. */
const accessChecks: ReadonlyArray<readonly [Access, unknown]> = [
  ["admin", adminProcedure._def.middlewares.at(-1)],
  ["issuer", issuerProcedure._def.middlewares.at(-1)],
  ["user", protectedProcedure._def.middlewares.at(-1)],
];

function procedureDef(path: string): ProcedureDef {
  const procedure = (appRouter._def.procedures as unknown as Record<string, { _def: ProcedureDef } | undefined>)[path];
  if (!procedure) throw new Error(`The router has no procedure ${path}`);
  return procedure._def;
}

/**
 * A procedure's access level, from the middlewares of the builder that made it: a procedure built on
 * `protectedProcedure` carries that builder's session check (the same function), and so on for issuers and admins.
 * Object-level rules (the certificate's own issuer) are the procedure's business and not visible here.
 */
export function accessOf(path: string): Access {
  const { middlewares } = procedureDef(path);
  return accessChecks.find(([, check]) => middlewares.includes(check))?.[0] ?? "public";
}

/** The procedure's input schema, or undefined when it takes none. */
function inputSchemaOf(path: string): z.ZodType | undefined {
  const { inputs } = procedureDef(path);
  if (inputs.length > 1) throw new Error(`${path}: chained .input() schemas are not described in OpenAPI`);
  const [input] = inputs;
  if (input === undefined) return undefined;
  if (!(input instanceof z.ZodType)) throw new Error(`${path}: the input is not a zod schema`);
  return input;
}

/**
 * The object schema inside an input: through `.default()`, `.optional()` and the like, through pipes (either end),
 * and to the object member of a union (a `FormData`-or-object input).
 */
function objectSchemaOf(schema: z.ZodType): z.ZodObject | undefined {
  if (schema instanceof z.ZodObject) return schema;
  if (schema instanceof z.ZodPipe)
    return objectSchemaOf(schema.in as z.ZodType) ?? objectSchemaOf(schema.out as z.ZodType);
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options) {
      const object = objectSchemaOf(option as z.ZodType);
      if (object) return object;
    }
    return undefined;
  }
  const def = schema._zod.def as { innerType?: unknown };
  return def.innerType instanceof z.ZodType ? objectSchemaOf(def.innerType) : undefined;
}

function inputObjectOf(route: RestRoute): z.ZodObject | undefined {
  const input = inputSchemaOf(route.procedure);
  if (input === undefined) return undefined;
  const object = objectSchemaOf(input);
  if (!object) throw new Error(`${route.procedure}: REST inputs must be objects (or wrap one)`);
  return object;
}

const isOptionalInput = (field: z.ZodType) => field._zod.optin === "optional";

/** Fields that hold uploaded files: `z.file()`, or `z.instanceof(File | Blob)`. */
function isFileField(field: z.core.$ZodType): boolean {
  if (field instanceof z.ZodFile) return true;
  const def = field._zod.def as { innerType?: z.core.$ZodType };
  if (def.innerType) return isFileField(def.innerType);
  const uploadClass = (field._zod.bag as { Class?: unknown }).Class;
  return uploadClass === File || uploadClass === Blob;
}

/** What the OpenAPI document calls an uploaded file. */
const binaryFile: oas31.SchemaObject = {
  type: "string",
  format: "binary",
  contentMediaType: "application/octet-stream",
};

/**
 * The object without some fields. Built anew from the shape rather than with `.omit()`, which zod refuses on objects
 * with refinements; those say nothing JSON Schema can carry anyway.
 */
function omitFields(object: z.ZodObject, fields: readonly string[]): z.ZodObject {
  if (fields.length === 0) return object;
  const shape = Object.fromEntries(Object.entries(object.shape).filter(([name]) => !fields.includes(name)));
  const { catchall } = object._zod.def;
  return catchall ? z.object(shape).catchall(catchall) : z.object(shape);
}

// --- errors -----------------------------------------------------------------------------------------------------

const errorCodes = {
  400: ["BAD_REQUEST", "The input failed validation (field paths in `fieldErrors`), or the body could not be read"],
  401: ["UNAUTHORIZED", "No valid session (or, for sign-in, wrong credentials)"],
  403: [
    "FORBIDDEN",
    "The caller's role or relation to the object does not allow this, or a cookie-authenticated write came from another origin",
  ],
  404: ["NOT_FOUND", "No such object, or one the caller may not see"],
  409: ["CONFLICT", "The object is not in a state that allows this (already revoked, already listed, taken name)"],
  412: ["PRECONDITION_FAILED", "The account cannot do this yet (no wallet, insufficient balance)"],
  413: ["PAYLOAD_TOO_LARGE", "The body is larger than allowed"],
  415: ["UNSUPPORTED_MEDIA_TYPE", "The body is not sent as a content type this path accepts"],
  429: [
    "TOO_MANY_REQUESTS",
    "The client's request budget (or, for sign-in, the account's failed attempts) is spent; `Retry-After` says when to retry",
  ],
  500: ["INTERNAL_SERVER_ERROR", "An unexpected failure; details are in the server's log, never in the answer"],
} as const;

type ErrorStatus = keyof typeof errorCodes;

const errorBody = z
  .object({
    error: z.object({
      code: z
        .enum(Object.values(errorCodes).map(([code]) => code) as [string, ...string[]])
        .meta({ description: "The tRPC error code: the one a tRPC client gets for the same call" }),
      message: z.string(),
      fieldErrors: z
        .object({ formErrors: z.array(z.string()), fieldErrors: z.record(z.string(), z.array(z.string())) })
        .optional()
        .meta({ description: "For BAD_REQUEST from input validation: messages by field path (zod's flattenError)" }),
    }),
  })
  .meta({ id: "Error" });

/**
 * Failures a procedure answers with beyond those read from its route and builder (validation, session, role, body
 * limits). Kept next to the document so a reader of a route finds its errors; the REST tests check that every status
 * they see is listed.
 */
const procedureErrors: Partial<Record<ProcedurePath, readonly ErrorStatus[]>> = {
  "auth.register": [409],
  "auth.login": [401],
  "certificates.create": [404],
  "certificates.invalidate": [404, 409],
  "market.list": [404, 409],
  "market.buy": [404, 409],
  "market.cancel": [404, 409],
  "account.balance": [412],
  "account.transfer": [404],
  "tx.status": [404],
};

function errorStatusesOf(route: RestRoute, access: Access, takesInput: boolean, chainRequest: boolean): ErrorStatus[] {
  // Every /api path is rate limited per client address and session.
  const statuses = new Set<ErrorStatus>([429, 500, ...(procedureErrors[route.procedure] ?? [])]);
  if (takesInput || chainRequest) statuses.add(400);
  if (access !== "public") statuses.add(401);
  // Role checks, object-level checks, and the cross-site check on cookie-borne writes.
  if (access === "issuer" || access === "admin" || route.method !== "get") statuses.add(403);
  if (route.params) statuses.add(404);
  // A chain request is sent from the caller's custodial wallet, which an account may lack.
  if (chainRequest) statuses.add(412);
  if (route.input === "json" || route.input === "form") {
    statuses.add(413);
    statuses.add(415);
  }
  return [...statuses].sort((a, b) => a - b);
}

// --- operations -------------------------------------------------------------------------------------------------

const accessNotes: Record<Access, string> = {
  public: "Open to anyone; no session needed.",
  user: "Needs a session (bearer token or cookie).",
  issuer: "Needs a session of a user with the issuer role.",
  admin: "Needs a session of an admin.",
};

const signedIn: oas31.SecurityRequirementObject[] = [{ bearerAuth: [] }, { cookieAuth: [] }];

/** `/certificates/:id` → `/api/certificates/{id}`. */
export const openApiPath = (route: RestRoute) => `/api${route.path.replace(/:(\w+)/g, "{$1}")}`;

function requestBodyFor(route: RestRoute, body: z.ZodObject): ZodOpenApiOperationObject["requestBody"] {
  const required = Object.values(body.shape).some((field) => !isOptionalInput(field as z.ZodType));
  if (route.input === "json") return { required, content: { "application/json": { schema: body } } };

  const fileFields = Object.entries(body.shape)
    .filter(([, field]) => isFileField(field as z.ZodType))
    .map(([name]) => name);
  const content: ZodOpenApiContentObject = {
    "multipart/form-data": { schema: body },
    // Without a document the same fields may come as JSON; a file cannot.
    "application/json": { schema: omitFields(body, fileFields) },
  };
  return { required: true, content };
}

function operationFor(route: RestRoute): ZodOpenApiOperationObject {
  const def = procedureDef(route.procedure);
  const access = accessOf(route.procedure);
  const input = inputObjectOf(route);
  const pathFields = Object.values(route.params ?? {});
  const idempotencyKey = input?.shape.idempotencyKey as z.ZodType | undefined;

  const requestParams: NonNullable<ZodOpenApiOperationObject["requestParams"]> = {};
  if (route.params) {
    const path: Record<string, z.ZodType> = {};
    for (const [param, field] of Object.entries(route.params)) {
      const schema = input?.shape[field] as z.ZodType | undefined;
      if (!schema) throw new Error(`${route.path}: ${route.procedure} has no input field ${field} for :${param}`);
      path[param] = schema;
    }
    requestParams.path = z.object(path);
  }
  const rest = input && omitFields(input, pathFields);
  if (route.input === "query" && rest) requestParams.query = rest;
  if (idempotencyKey) {
    requestParams.header = z.object({
      "Idempotency-Key": idempotencyKey.meta({
        param: {
          description: "Instead of the `idempotencyKey` input field: one of the two is required; retries reuse it.",
        },
      }),
    });
  }

  const responses: ZodOpenApiResponsesObject = {
    200: {
      description: "The procedure's result",
      content: { "application/json": { schema: (def.output as z.ZodType | undefined) ?? z.null() } },
    },
  };
  const takesInput = input !== undefined && Object.keys(input.shape).length > 0;
  for (const status of errorStatusesOf(route, access, takesInput, idempotencyKey !== undefined)) {
    responses[`${status}`] = { $ref: `#/components/responses/${errorCodes[status][0]}` };
  }

  const hasBody = (route.input === "json" || route.input === "form") && rest;
  return {
    operationId: route.procedure,
    tags: [route.procedure.split(".")[0] ?? route.procedure],
    summary: route.summary,
    description: `${accessNotes[access]} Answered by the tRPC ${def.type} \`${route.procedure}\`: same validation, same errors.`,
    security: access === "public" ? [] : signedIn,
    ...(Object.keys(requestParams).length > 0 ? { requestParams } : {}),
    ...(hasBody ? { requestBody: requestBodyFor(route, rest) } : {}),
    responses,
  };
}

// --- document ---------------------------------------------------------------------------------------------------

/** Builds the document from a route table; `createOpenApiRoutes` builds the one served, once per process. */
export function buildOpenApiDocument(routes: readonly RestRoute[]): oas31.OpenAPIObject {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const path = openApiPath(route);
    const pathItem = paths[path] ?? {};
    if (pathItem[route.method]) throw new Error(`Two REST routes for ${route.method.toUpperCase()} ${route.path}`);
    paths[path] = { ...pathItem, [route.method]: operationFor(route) };
  }
  const responses = Object.fromEntries(
    Object.values(errorCodes).map(([code, description]) => [
      code,
      { description, content: { "application/json": { schema: errorBody } } },
    ]),
  );
  return createDocument(
    {
      openapi: "3.1.0",
      info: {
        title: "certchain API",
        version: API_VERSION,
        description: [
          "REST mirror of certchain's tRPC API (`/trpc`): each path is answered by the procedure named in its",
          "operationId, with the same validation, authorization and errors. Sign in with `POST /api/auth/login`",
          "and send the token as `Authorization: Bearer <token>`, or let a browser carry the session cookie.",
          "Requests that change the chain answer at once with a `requestId`; `GET /api/tx/status` follows them.",
        ].join(" "),
      },
      security: signedIn,
      paths,
      components: {
        securitySchemes: {
          bearerAuth: {
            type: "http",
            scheme: "bearer",
            description: "The `token` returned by `POST /api/auth/login` or `/api/auth/register`.",
          },
          cookieAuth: {
            type: "apiKey",
            in: "cookie",
            name: SESSION_COOKIE,
            description:
              "The HttpOnly session cookie set at sign-in. Writes that ride it must come from this API's own origin.",
          },
        },
        responses,
      },
    },
    {
      override: ({ jsonSchema, zodSchema }) => {
        if (isFileField(zodSchema)) Object.assign(jsonSchema, binaryFile);
      },
    },
  ) as oas31.OpenAPIObject;
}

let served: string | undefined;

/**
 * `GET /api/openapi.json`, mounted at `/api`. The document is built when the app is (a schema zod cannot describe
 * fails start-up, not a request) and once per process; clients revalidate it by ETag.
 */
export function createOpenApiRoutes(): Hono {
  served ??= JSON.stringify(buildOpenApiDocument(restRoutes));
  const document = served;
  return new Hono().get(OPENAPI_JSON_PATH.slice("/api".length), etag(), (c) => {
    c.header("cache-control", "no-cache");
    c.header("content-type", "application/json; charset=utf-8");
    return c.body(document);
  });
}
