import type { AddressInfo } from "node:net";
import { createApiDeps, createApp } from "@certchain/api";
import { ANVIL_ACCOUNT_0_PRIVATE_KEY, loadConfig } from "@certchain/common";
import { deployContracts } from "@certchain/contracts";
import { type Anvil, startAnvil } from "@certchain/contracts/anvil";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { type ServerType, serve } from "@hono/node-server";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AppRouter } from "../src/index.ts";
import { createClient } from "../src/index.ts";

let database: TestDatabase;
let anvil: Anvil;
const closers: Array<() => Promise<void>> = [];
let server: ServerType;
let url: string;

beforeAll(async () => {
  [database, anvil] = await Promise.all([createTestDatabase(), startAnvil()]);
  const config = loadConfig({
    NODE_ENV: "test",
    DATABASE_URL: database.url,
    ETH_NODE_URL: anvil.rpcUrl,
    LOG_LEVEL: "silent",
  });
  const deployment = await deployContracts({
    rpcUrl: anvil.rpcUrl,
    chainId: config.chainId,
    operatorPrivateKey: ANVIL_ACCOUNT_0_PRIVATE_KEY,
  });
  const app = createApp(
    await createApiDeps(config, database.db, { deployment, onClose: (close) => closers.push(close) }),
  );
  server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await Promise.all(closers.map((close) => close()));
  await Promise.all([database.drop(), anvil.stop()]);
});

describe("createClient", () => {
  test("default: register, then read the profile with the returned token over real HTTP", async () => {
    const anonymous = createClient({ url });
    const { token, user } = await anonymous.auth.register.mutate({
      username: "typed_client",
      email: "typed@example.org",
      password: "a long enough password",
    });
    expect(user.role).toBe("user");
    const signedIn = createClient({ url, token });
    const profile = await signedIn.auth.profile.query();
    expect(profile).toMatchObject({ username: "typed_client", email: "typed@example.org" });
  });

  test("error: a procedure's refusal arrives as a TRPCClientError with its code", async () => {
    const anonymous = createClient({ url });
    const error = await anonymous.auth.profile.query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<AppRouter>).data?.code).toBe("UNAUTHORIZED");
  });

  test("behavior: a FormData input (a document upload) goes as multipart, outside the batch", async () => {
    const form = new FormData();
    form.append("document", new File([JSON.stringify({ never: "issued" })], "doc.json", { type: "application/json" }));
    const checked = await createClient({ url }).certificates.verifyDocument.mutate(form);
    expect(checked).toMatchObject({ verdict: "unknown", tokenId: null });
  });

  test("behavior: the token can change between calls (a getter)", async () => {
    let current: string | undefined;
    const client = createClient({ url, token: () => current });
    const { token } = await client.auth.register.mutate({
      username: "getter_user",
      email: "getter@example.org",
      password: "a long enough password",
    });
    current = token;
    expect((await client.auth.profile.query()).username).toBe("getter_user");
  });

  test("behavior: over real HTTP, a tRPC answer carries its request id and the security headers", async () => {
    // The server writes tRPC's answers in place (no copy of the response to add headers): they must still arrive.
    const response = await fetch(`${url}/trpc/market.listings?input=${encodeURIComponent("{}")}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ result: { data: { items: [] } } });
  });
});
