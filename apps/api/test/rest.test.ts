import {
  certificates,
  listings,
  type NewCertificate,
  type NewListing,
  transactions,
  txRequests,
  users,
} from "@certchain/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createSession } from "../src/auth/sessions.ts";
import { type Access, accessOf, buildOpenApiDocument, openApiPath } from "../src/http/openapi.ts";
import { type RestRoute, restRoutes } from "../src/http/rest.ts";
import { bearer, createTestApi, type TestApi, type TrpcResult } from "./helpers.ts";
import { access } from "./procedure-access.ts";

/**
 * The REST mirror against tRPC: every path, for the same input and the same caller, answers with the same status and
 * the same body (the procedure's result, or the same error code, message and field errors). Every status seen here
 * must be one the OpenAPI document lists for that operation.
 */
let api: TestApi;
const userIds: Record<Exclude<Access, "public">, number> = { user: 0, issuer: 0, admin: 0 };
let userWallet: `0x${string}`;
const university: `0x${string}` = "0x00000000000000000000000000000000000000e1";
/** The same address in capitals: inputs lowercase addresses, on both surfaces alike. */
const universityInCapitals = `0x${university.slice(2).toUpperCase()}`;
const ETH: `0x${string}` = "0x0000000000000000000000000000000000000000";
const document = buildOpenApiDocument(restRoutes);
/** A request of the user's (`tx.status` reads it). */
const OWN_REQUEST = "5d0c8c2e-6c1f-4d2a-9a57-3f0b2f6f1a01";

const hex = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as const;

function indexedCertificate(tokenId: number, overrides: Partial<NewCertificate> = {}): NewCertificate {
  return {
    tokenId,
    ownerAddress: userWallet,
    issuerAddress: university,
    ipfsHash: `bafkreirest${tokenId}`,
    status: "valid",
    issuedAt: new Date("2026-01-01T00:00:00Z"),
    issueTxHash: hex(tokenId),
    issuedBlockNumber: 1,
    blockNumber: 1,
    blockHash: hex(tokenId),
    logIndex: 0,
    ...overrides,
  };
}

function indexedListing(listingId: number, overrides: Partial<NewListing> = {}): NewListing {
  return {
    listingId,
    tokenId: listingId,
    sellerAddress: userWallet,
    currencyAddress: ETH,
    price: BigInt(10 - listingId) * 10n ** 17n,
    status: "active",
    listedAt: new Date(Date.UTC(2026, 0, listingId)),
    createdTxHash: hex(listingId),
    createdBlockNumber: listingId,
    createdBlockHash: hex(listingId),
    createdLogIndex: 0,
    blockNumber: listingId,
    blockHash: hex(listingId),
    logIndex: 0,
    ...overrides,
  };
}

beforeAll(async () => {
  api = await createTestApi();
  for (const role of ["user", "issuer", "admin"] as const) {
    const registered = await api.mutation("auth.register", {
      username: `rest_${role}`,
      email: `${role}@rest.example`,
      password: "long enough pw",
    });
    userIds[role] = registered.body.result.data.user.id;
    if (role === "user") userWallet = registered.body.result.data.user.walletAddress;
    await api.deps.db.update(users).set({ role }).where(eq(users.id, userIds[role]));
  }
  await api.deps.db
    .insert(certificates)
    .values([
      indexedCertificate(1),
      indexedCertificate(2, { status: "invalid", revokedAt: new Date("2026-02-01T00:00:00Z"), revocationReason: "x" }),
      ...Array.from({ length: 5 }, (_, i) => indexedCertificate(3 + i, { ownerAddress: university })),
    ]);
  await api.deps.db
    .insert(listings)
    .values([
      ...Array.from({ length: 6 }, (_, i) => indexedListing(i + 1)),
      indexedListing(7, { status: "sold", buyerAddress: university, fee: 25n }),
    ]);
  await api.deps.db.insert(transactions).values(
    Array.from({ length: 4 }, (_, i) => ({
      txHash: hex(100 + i),
      fromAddress: userWallet,
      toAddress: university,
      amount: 10n ** 18n,
      status: "completed" as const,
      kind: i % 2 === 0 ? ("eth_transfer" as const) : ("buy" as const),
      currencyAddress: ETH,
      blockNumber: i + 1,
    })),
  );
  await api.deps.db.insert(txRequests).values({
    id: OWN_REQUEST,
    userId: userIds.user,
    idempotencyKey: "rest-own-request",
    kind: "withdraw",
    payload: { currency: ETH },
  });
});
afterAll(() => api.close());

/** A new session per call, so a logout on one surface cannot end the other's. */
async function sessionHeaders(level: Access): Promise<Record<string, string>> {
  if (level === "public") return {};
  const { token } = await createSession(api.deps.db, userIds[level], {});
  return bearer(token);
}

type Input = Record<string, unknown> | undefined;
type Outcome = { status: number; body: unknown };

const routeFor = (procedure: string): RestRoute => {
  const route = restRoutes.find((r) => r.procedure === procedure);
  if (!route) throw new Error(`no REST route for ${procedure}`);
  return route;
};

function expectDocumented(route: RestRoute, status: number) {
  const responses = document.paths?.[openApiPath(route)]?.[route.method]?.responses ?? {};
  expect(Object.keys(responses), `${route.method.toUpperCase()} ${route.path} answered ${status}`).toContain(
    String(status),
  );
}

/** Calls the REST path with the input spread as the route says: path parameters, query string or JSON body. */
async function callRest(route: RestRoute, input: Input, headers: Record<string, string>): Promise<Outcome> {
  const fields: Record<string, unknown> = { ...input };
  let path = `/api${route.path}`;
  for (const [param, field] of Object.entries(route.params ?? {})) {
    path = path.replace(`:${param}`, encodeURIComponent(String(fields[field])));
    delete fields[field];
  }
  if (route.input === "query") {
    const query = new URLSearchParams(
      Object.entries(fields).map(([name, value]): [string, string] => [name, String(value)]),
    );
    if (query.size > 0) path += `?${query}`;
  }
  const hasBody = route.input === "json" || route.input === "form";
  const response = await api.app.request(path, {
    method: route.method.toUpperCase(),
    headers: hasBody ? { "content-type": "application/json", ...headers } : headers,
    ...(hasBody ? { body: JSON.stringify(fields) } : {}),
  });
  expectDocumented(route, response.status);
  return { status: response.status, body: await response.json() };
}

/** The tRPC answer in the REST mirror's terms: the result's data, or `{ error: { code, message, fieldErrors? } }`. */
function asRestOutcome(result: TrpcResult): Outcome {
  if (result.status === 200) return { status: 200, body: result.body.result.data ?? null };
  const { message, data } = result.body.error;
  const fieldErrors = data.fieldErrors ? { fieldErrors: data.fieldErrors } : {};
  return { status: result.status, body: { error: { code: data.code, message, ...fieldErrors } } };
}

async function callTrpc(route: RestRoute, input: Input, headers: Record<string, string>): Promise<Outcome> {
  const call = route.method === "get" ? api.query : api.mutation;
  return asRestOutcome(await call(route.procedure, input, headers));
}

/** Both surfaces, each with its own session at `level`. */
async function both(route: RestRoute, input: Input, level: Access): Promise<{ rest: Outcome; trpc: Outcome }> {
  const rest = await callRest(route, input, await sessionHeaders(level));
  const trpc = await callTrpc(route, input, await sessionHeaders(level));
  return { rest, trpc };
}

/**
 * Inputs for every read, as a client would send them: defaults, filters, a lowercasing transform, and bad values.
 * Each GET route must have an entry.
 */
const readInputs: Record<string, Input[]> = {
  "auth.profile": [undefined],
  "certificates.list": [
    {},
    { limit: 2 },
    { status: "invalid" },
    { owner: universityInCapitals, limit: 3 },
    { limit: 0 },
    { limit: "many" },
    { owner: "not an address" },
    { unexpected: "1" },
  ],
  "certificates.get": [{ tokenId: 1 }, { tokenId: 2 }, { tokenId: 999 }, { tokenId: 0 }, { tokenId: "one" }],
  "market.listings": [
    {},
    { sort: "price_asc", limit: 4 },
    { status: "sold" },
    { tokenId: 3 },
    { sort: "cheapest" },
    { tokenId: -1 },
  ],
  "account.balance": [undefined],
  "account.transactions": [{}, { kind: "buy" }, { limit: 1 }, { status: "lost" }],
  "tx.status": [
    { requestId: OWN_REQUEST },
    { requestId: "00000000-0000-4000-8000-000000000000" },
    { requestId: "not a request" },
    {},
  ],
};

const reads = restRoutes.filter((route) => route.method === "get");
const writes = restRoutes.filter((route) => route.method !== "get");

describe("REST paths answer like their procedures", () => {
  test("behavior: every read route has inputs here, and every write route an entry in the access table", () => {
    expect(reads.map((r) => r.procedure).sort()).toEqual(Object.keys(readInputs).sort());
    for (const route of writes) expect(access[route.procedure], route.procedure).toBeDefined();
  });

  const readCases = reads.flatMap((route) =>
    (readInputs[route.procedure] ?? []).map(
      (input) => [route.procedure, JSON.stringify(input) ?? "none", route, input] as const,
    ),
  );
  test.each(readCases)("behavior: %s with %s answers as over tRPC", async (_procedure, _label, route, input) => {
    const { rest, trpc } = await both(route, input, accessOf(route.procedure));
    expect(rest).toEqual(trpc);
    if (accessOf(route.procedure) !== "public") {
      const anonymous = await both(route, input, "public");
      expect(anonymous.rest).toEqual(anonymous.trpc);
      expect(anonymous.rest.status).toBe(401);
    }
  });

  test("behavior: the reads answer with data, not only errors", async () => {
    const list = await both(routeFor("certificates.list"), { limit: 2 }, "public");
    expect(list.rest).toMatchObject({ status: 200, body: { items: [{ tokenId: 7 }, { tokenId: 6 }] } });
    const owned = await both(routeFor("certificates.list"), { owner: universityInCapitals }, "public");
    expect((owned.rest.body as { items: unknown[] }).items).toHaveLength(5);
    const listed = await both(routeFor("market.listings"), { sort: "price_asc", limit: 4 }, "public");
    expect(listed.rest.body).toMatchObject({
      items: [{ listingId: 6 }, { listingId: 5 }, { listingId: 4 }, { listingId: 3 }],
    });
    const history = await both(routeFor("account.transactions"), { kind: "buy" }, "user");
    expect((history.rest.body as { items: unknown[] }).items).toHaveLength(2);
  });

  test("behavior: a cursor from one surface pages the other", async () => {
    const route = routeFor("market.listings");
    const first = await callTrpc(route, { limit: 2 }, {});
    const cursor = (first.body as { nextCursor: string }).nextCursor;
    expect(cursor).toBeTruthy();
    const { rest, trpc } = await both(route, { limit: 2, cursor }, "public");
    expect(rest).toEqual(trpc);
    expect(rest.body).toMatchObject({ items: [{ listingId: 4 }, { listingId: 3 }] });
  });

  const writeCases = writes.map((route) => [`${route.method.toUpperCase()} ${route.path}`, route] as const);

  test.each(writeCases)(
    "behavior: %s as its caller, with the matrix's input, answers as over tRPC",
    async (_name, route) => {
      const input = access[route.procedure]?.input as Input;
      const { rest, trpc } = await both(route, input, accessOf(route.procedure));
      expect(rest).toEqual(trpc);
    },
  );

  test.each(writeCases)("error: %s signed out answers as over tRPC", async (_name, route) => {
    const input = access[route.procedure]?.input as Input;
    const { rest, trpc } = await both(route, input, "public");
    expect(rest).toEqual(trpc);
    if (accessOf(route.procedure) !== "public") expect(rest.status).toBe(401);
  });

  test.each(writeCases.filter(([, route]) => route.input !== "none"))(
    "error: %s with an unknown field and a wrong type is the same 400 as over tRPC",
    async (_name, route) => {
      const input = access[route.procedure]?.input as Record<string, unknown>;
      const [firstField] = Object.keys(input).filter((field) => !Object.values(route.params ?? {}).includes(field));
      const bad = { ...input, ...(firstField ? { [firstField]: { nested: true } } : {}), unexpected: 1 };
      const { rest, trpc } = await both(route, bad, accessOf(route.procedure));
      expect(rest).toEqual(trpc);
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ error: { code: "BAD_REQUEST", fieldErrors: expect.any(Object) } });
    },
  );
});

describe("successful writes through REST", () => {
  test("default: register and login over REST give sessions that tRPC accepts, like tRPC's own", async () => {
    const viaRest = await api.app.request("/api/auth/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "rest_signup", email: "signup@rest.example", password: "long enough pw" }),
    });
    const viaTrpc = await api.mutation("auth.register", {
      username: "trpc_signup",
      email: "signup@trpc.example",
      password: "long enough pw",
    });
    expect(viaRest.status).toBe(200);
    const registered = (await viaRest.json()) as { user: { id: number } };
    // Same shape and the same cookie, different accounts.
    expect(Object.keys(registered).sort()).toEqual(Object.keys(viaTrpc.body.result.data).sort());
    expect(Object.keys(registered.user).sort()).toEqual(Object.keys(viaTrpc.body.result.data.user).sort());
    expect(viaRest.headers.get("set-cookie")).toMatch(/^certchain_session=.+; HttpOnly; Secure; SameSite=Lax/);
    expect(viaTrpc.headers.get("set-cookie")).toMatch(/^certchain_session=.+; HttpOnly; Secure; SameSite=Lax/);

    const login = await callRest(routeFor("auth.login"), { login: "rest_signup", password: "long enough pw" }, {});
    expect(login.status).toBe(200);
    const { token, user } = login.body as { token: string; user: { id: number } };
    expect(user.id).toBe(registered.user.id);
    const profile = await api.query("auth.profile", undefined, bearer(token));
    expect(profile.body.result.data).toEqual((await callRest(routeFor("auth.profile"), undefined, bearer(token))).body);

    const logout = await callRest(routeFor("auth.logout"), undefined, bearer(token));
    expect(logout).toEqual({ status: 200, body: { ok: true } });
    expect((await api.query("auth.profile", undefined, bearer(token))).status).toBe(401);
  });

  test("behavior: an upload issues through REST as through tRPC, with the Idempotency-Key header instead of the field", async () => {
    const pdf = () => new File(["%PDF-1.7\n%%EOF\n"], "diploma.pdf", { type: "application/pdf" });
    const form = (key?: string) => {
      const body = new FormData();
      body.set("recipientUserId", String(userIds.user));
      body.set("name", "BSc REST");
      body.set("document", pdf());
      if (key) body.set("idempotencyKey", key);
      return body;
    };
    const issuer = await sessionHeaders("issuer");
    const post = async (path: string, body: FormData, headers: Record<string, string>): Promise<TrpcResult> => {
      const response = await api.app.request(path, { method: "POST", body, headers: { ...issuer, ...headers } });
      return { status: response.status, body: await response.json(), headers: response.headers };
    };
    const viaRest = await post("/api/certificates/create", form(), { "idempotency-key": "rest-upload-1" });
    const viaTrpc = await post("/trpc/certificates.create", form("trpc-upload-1"), {});
    expect(viaRest.status).toBe(200);
    expectDocumented(routeFor("certificates.create"), viaRest.status);
    expect(viaTrpc.status).toBe(200);
    expect(Object.keys(viaRest.body).sort()).toEqual(Object.keys(viaTrpc.body.result.data).sort());
    // Content-addressed: the same file is the same document on both surfaces.
    expect(viaRest.body.documentCid).toBe(viaTrpc.body.result.data.documentCid);
    // A retry with the same header is the same request.
    const retry = await post("/api/certificates/create", form(), { "idempotency-key": "rest-upload-1" });
    expect(retry.body.requestId).toBe(viaRest.body.requestId);

    // A missing field in a multipart body: the same 400 on both.
    const incomplete = () => {
      const body = form("incomplete-1");
      body.delete("name");
      return body;
    };
    const badRest = await post("/api/certificates/create", incomplete(), {});
    const badTrpc = await post("/trpc/certificates.create", incomplete(), {});
    expect(badRest.status).toBe(400);
    expect({ status: badRest.status, body: badRest.body }).toEqual(asRestOutcome(badTrpc));
  });
});
