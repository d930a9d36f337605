import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { freePort } from "@certchain/common/testing";
import { writeDeployment } from "@certchain/contracts";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { clientIp } from "../src/http/client-ip.ts";
import { createTestApi, type TestApi } from "./helpers.ts";

/** How the API meets browsers and networks: CORS for listed origins only, client IPs behind proxies, and HTTPS. */
const APP_ORIGIN = "https://app.example.org";
let api: TestApi;
let scratch: string;

beforeAll(async () => {
  api = await createTestApi({ CORS_ORIGINS: APP_ORIGIN, TRUST_PROXY: "1", RATE_LIMIT_PER_MINUTE: "3" });
  await api.deps.limits.ready();
  scratch = await mkdtemp(join(tmpdir(), "certchain-transport-"));
});
afterAll(async () => {
  await api.close();
  await rm(scratch, { recursive: true, force: true });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    api.app.request("/trpc/auth.login", {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });

  test("default: a listed origin may call with credentials and read Retry-After", async () => {
    const response = await preflight(APP_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    const read = await api.app.request("/api/certificates/list", { headers: { origin: APP_ORIGIN } });
    expect(read.headers.get("access-control-expose-headers")).toMatch(/retry-after/i);
  });

  test("behavior: a request without an Origin (not a browser) gets no CORS headers, and answers vary by Origin", async () => {
    const plain = await api.app.request("/api/certificates/list");
    expect(plain.status).toBe(200);
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    expect(plain.headers.get("access-control-allow-credentials")).toBeNull();
    expect(plain.headers.get("vary")).toBe("Origin");
    const fromApp = await api.app.request("/api/certificates/list", { headers: { origin: APP_ORIGIN } });
    expect(fromApp.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(fromApp.headers.get("vary")).toBe("Origin");
  });

  test("error: any other origin gets no CORS grant, and its cookie writes are refused", async () => {
    const response = await preflight("https://evil.example");
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    const registered = await api.mutation(
      "auth.register",
      { username: "cors_user", email: "cors@example.org", password: "long enough pw" },
      { "x-forwarded-for": "192.0.2.50" },
    );
    const cookie = `certchain_session=${registered.body.result.data.token}`;
    const write = (origin: string) =>
      api.app.request("/trpc/auth.logoutAll", {
        method: "POST",
        headers: { origin, cookie, "content-type": "application/json", "x-forwarded-for": "192.0.2.51" },
      });
    expect((await write("https://evil.example")).status).toBe(403);
    expect((await write(APP_ORIGIN)).status).toBe(200);
  });
});

describe("client addresses behind a proxy", () => {
  test("default: with TRUST_PROXY=1 the proxy's entry counts, not what the client wrote before it", () => {
    const seen = (trustProxy: number, forwarded?: string) => {
      let ip: string | undefined;
      const app = new Hono().get("/", (c) => {
        ip = clientIp(c, trustProxy);
        return c.text("ok");
      });
      return Promise.resolve(app.request("/", { headers: forwarded ? { "x-forwarded-for": forwarded } : {} })).then(
        () => ip,
      );
    };
    return Promise.all([
      expect(seen(1, "6.6.6.6, 198.51.100.7")).resolves.toBe("198.51.100.7"),
      expect(seen(2, "6.6.6.6, 198.51.100.7, 10.0.0.2")).resolves.toBe("198.51.100.7"),
      expect(seen(0, "198.51.100.7")).resolves.toBeUndefined(),
    ]);
  });

  test("behavior: each client behind the proxy has its own request budget", async () => {
    const from = (ip: string) => api.app.request("/api/certificates/1", { headers: { "x-forwarded-for": ip } });
    for (let i = 0; i < 3; i++) expect((await from("203.0.113.1")).status).toBe(404);
    expect((await from("203.0.113.1")).status).toBe(429);
    expect((await from("203.0.113.2")).status).toBe(404);
  });
});

describe("HTTPS", () => {
  let server: ChildProcess | undefined;
  afterAll(() => {
    server?.kill("SIGTERM");
  });

  test("default: with TLS_CERT_FILE and TLS_KEY_FILE the API serves HTTPS, with HSTS, and redirects HTTP to it", async () => {
    const cert = join(scratch, "cert.pem");
    const key = join(scratch, "key.pem");
    execFileSync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
    ]);
    writeDeployment(api.deployment, scratch);
    const port = await freePort();
    const redirectPort = await freePort();
    server = spawn(join(repoRoot, "node_modules/.bin/tsx"), ["apps/api/src/main.ts"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NODE_ENV: "test",
        LOG_LEVEL: "warn",
        DATABASE_URL: api.database.url,
        REDIS_PREFIX: api.deps.config.redisPrefix,
        ETH_NODE_URL: api.anvil.rpcUrl,
        DEPLOYMENTS_DIR: scratch,
        STORAGE_DIR: join(scratch, "storage"),
        API_PORT: String(port),
        TLS_CERT_FILE: cert,
        TLS_KEY_FILE: key,
        HTTP_REDIRECT_PORT: String(redirectPort),
      },
    });
    let output = "";
    server.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    // The certificate is self-signed, so this one request skips verification (fetch cannot without a dispatcher).
    const httpsGet = () =>
      new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
        get(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve({
            status: response.statusCode ?? 0,
            hsts: response.headers["strict-transport-security"] as string | undefined,
          });
        }).on("error", reject);
      });
    const deadline = Date.now() + 30_000;
    let response: { status: number; hsts: string | undefined } | undefined;
    while (!response) {
      try {
        response = await httpsGet();
      } catch {
        if (Date.now() > deadline || server.exitCode !== null) throw new Error(`API did not serve HTTPS: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    expect(response.status).toBe(200);
    expect(response.hsts).toMatch(/max-age=\d+/);
    const redirected = await fetch(`http://127.0.0.1:${redirectPort}/api/certificates/1?x=1`, { redirect: "manual" });
    expect(redirected.status).toBe(308);
    expect(redirected.headers.get("location")).toBe(`https://127.0.0.1:${port}/api/certificates/1?x=1`);
  }, 60_000);

  test("error: only one of the two TLS variables is a one-line configuration error", () => {
    const run = () =>
      execFileSync(join(repoRoot, "node_modules/.bin/tsx"), ["apps/api/src/main.ts"], {
        cwd: repoRoot,
        env: { ...process.env, TLS_CERT_FILE: "/nonexistent.pem", TLS_KEY_FILE: "" },
        stdio: "pipe",
      });
    try {
      run();
      expect.unreachable("the API started with half a TLS configuration");
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toMatch(/TLS_KEY_FILE and TLS_CERT_FILE must be set together/);
    }
  });
});
