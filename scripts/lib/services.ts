import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { UserFacingError } from "@certchain/common";

/** How long a service we started may take to accept connections. */
const START_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_000;

type Endpoint = { host: string; port: number };

type LocalService = {
  name: string;
  /** The configuration variable that points at it, for messages. */
  variable: string;
  endpoint: Endpoint;
  /** Executable that must exist for us to start the service ourselves. */
  binary: string;
  /** Command that starts it in the background (the same commands TOOLCHAIN.md gives). */
  start: [string, ...string[]];
  install: string;
  /** Answers whether the thing listening is really this service. */
  probe(endpoint: Endpoint): Promise<boolean>;
};

const isLocalHost = (host: string) => ["127.0.0.1", "localhost", "::1", "[::1]"].includes(host);

/**
 * Opens a TCP connection and resolves with the first bytes that come back after writing `send` (or, when `send` is
 * null, the server's greeting). Resolves null when nothing listens, "" when the peer stays silent.
 */
function exchange({ host, port }: Endpoint, send: string | null): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ""), port });
    const done = (value: string | null) => {
      socket.destroy();
      resolve(value);
    };
    let connected = false;
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(connected ? "" : null));
    socket.once("error", () => done(null));
    socket.once("connect", () => {
      connected = true;
      if (send !== null) socket.write(send);
    });
    socket.once("data", (chunk) => done(chunk.toString("latin1")));
  });
}

function endpointOf(url: string, defaultPort: number): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : defaultPort };
}

export function mysqlService(databaseUrl: string): LocalService {
  const endpoint = endpointOf(databaseUrl, 3306);
  return {
    name: "MySQL (MariaDB)",
    variable: "DATABASE_URL",
    endpoint,
    binary: "/usr/sbin/mariadbd",
    start: [
      "start-stop-daemon",
      ...["--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
      ...["--", `--port=${endpoint.port}`],
    ],
    install: "apt-get install mariadb-server",
    // The server speaks first: a handshake packet (protocol 10, then its version string), or an error packet
    // (0xff, e.g. "Too many connections"), which still proves MySQL is the one listening.
    probe: async (endpoint) => /^.{4}(\n\d+\.\d+|\xff)/s.test((await exchange(endpoint, null)) ?? ""),
  };
}

export function redisService(redisUrl: string): LocalService {
  const endpoint = endpointOf(redisUrl, 6379);
  return {
    name: "Redis",
    variable: "REDIS_URL",
    endpoint,
    binary: "/usr/bin/redis-server",
    start: [
      "redis-server",
      "--daemonize",
      "yes",
      "--bind",
      "127.0.0.1",
      "-::1",
      "--port",
      String(endpoint.port),
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    install: "apt-get install redis-server",
    // An auth-protected, loading or busy Redis answers -NOAUTH, -LOADING or -BUSY: still Redis.
    probe: async (ep) => /^(\+PONG|-NOAUTH|-LOADING|-BUSY)/.test((await exchange(ep, "PING\r\n")) ?? ""),
  };
}

async function waitFor(service: LocalService, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await service.probe(service.endpoint)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/**
 * Makes sure a service answers: returns at once if it does, starts it when it is a local install that is down,
 * and otherwise throws one line saying how to get it.
 */
export async function ensureService(service: LocalService, log: (message: string) => void): Promise<void> {
  const { host, port } = service.endpoint;
  const where = `${host}:${port} (${service.variable})`;
  if (await service.probe(service.endpoint)) {
    log(`${service.name} is up at ${where}`);
    return;
  }
  if ((await exchange(service.endpoint, null)) !== null) {
    throw new UserFacingError(`something other than ${service.name} is listening at ${where}`);
  }
  if (!isLocalHost(host)) {
    throw new UserFacingError(
      `cannot reach ${service.name} at ${where}; start it or point ${service.variable} elsewhere`,
    );
  }
  if (!existsSync(service.binary)) {
    throw new UserFacingError(
      `${service.name} is not running at ${where} and is not installed; install it (${service.install}) or set ${service.variable}`,
    );
  }
  log(`${service.name} is down at ${where}; starting it`);
  const [command, ...args] = service.start;
  const result = spawnSync(command, args, { stdio: "pipe", encoding: "utf8" });
  if (result.status !== 0 || !(await waitFor(service, START_TIMEOUT_MS))) {
    const detail = (result.stderr || result.error?.message || "it did not answer in time").trim().split("\n")[0];
    throw new UserFacingError(`could not start ${service.name} at ${where}: ${detail}`);
  }
  log(`${service.name} started at ${where}`);
}

/** Ensures MySQL and Redis, the two services every certchain process needs. */
export async function ensureServices(
  config: { databaseUrl: string; redisUrl: string },
  log: (message: string) => void,
): Promise<void> {
  await ensureService(mysqlService(config.databaseUrl), log);
  await ensureService(redisService(config.redisUrl), log);
}
