import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./testing.ts";

/**
 * Private MariaDB and Redis servers for fault tests: servers a test may kill with SIGKILL and start again, on the same
 * port and data, while its daemons run against them. The machine's shared servers (the other test files' and other
 * people's) are never stopped. Test-only, like the rest of `@certchain/common/testing`.
 */
export type PrivateServer = {
  /** `mariadb` or `redis`, for messages. */
  readonly name: string;
  readonly port: number;
  /** `mysql://root@127.0.0.1:<port>` (no database: see `withDatabase`) or `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** True between `start()` and `kill()`. */
  readonly running: boolean;
  /** Starts the server (again, after `kill()`), on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** SIGKILL, as in a crash or an OOM kill: no shutdown, clients see their connections reset. Resolves once gone. */
  kill(): Promise<void>;
  /**
   * SIGSTOP: the server stops answering but keeps its connections open (the kernel still accepts new ones), as a hung
   * or overloaded server, or a network path that drops packets, looks to clients. `thaw()` (SIGCONT) lets it go on.
   */
  freeze(): void;
  thaw(): void;
  /** The server's last log lines, for failure messages. */
  log(): string;
  /** Kills the server and deletes its data directory; later calls do nothing. */
  dispose(): Promise<void>;
};

const START_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_000;
const MARIADB = "/usr/sbin/mariadbd";
const MARIADB_INSTALL_DB = "/usr/bin/mariadb-install-db";
const REDIS = "/usr/bin/redis-server";

/**
 * Why private servers cannot run on this machine (a binary missing: MariaDB or Redis is remote, say), or undefined
 * when they can. Fault tests skip themselves on such a machine.
 */
export function privateServersUnavailable(): string | undefined {
  const missing = [MARIADB, MARIADB_INSTALL_DB, REDIS].filter((path) => !existsSync(path));
  return missing.length > 0
    ? `${missing.join(", ")} not installed (apt-get install mariadb-server redis-server)`
    : undefined;
}

/** Small InnoDB files and buffers: a test server holds little, and starts (and recovers) faster for it. */
const INNODB_OPTIONS = ["--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M"];

/**
 * A private MariaDB: a data directory made by `mariadb-install-db` (about 2 s; do it once per test file), root with no
 * password over TCP on 127.0.0.1, the shared server's character set. Started before it is returned.
 */
export async function startPrivateMariadb(): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), "certchain-mariadb-"));
  const dataDir = join(dir, "data");
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  try {
    await promisify(execFile)(MARIADB_INSTALL_DB, [
      "--no-defaults",
      `--datadir=${dataDir}`,
      ...asRoot,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...INNODB_OPTIONS,
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${MARIADB_INSTALL_DB} failed: ${(error as { stderr?: string }).stderr ?? error}`);
  }
  const port = await freePort();
  const server = privateServer({
    name: "mariadb",
    dir,
    port,
    url: `mysql://root@127.0.0.1:${port}`,
    command: MARIADB,
    args: [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${join(dir, "mariadb.sock")}`,
      `--pid-file=${join(dir, "mariadb.pid")}`,
      `--log-error=${join(dir, "error.log")}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      ...asRoot,
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_general_ci",
      "--max-connections=300",
      ...INNODB_OPTIONS,
    ],
    logFile: join(dir, "error.log"),
    // The server speaks first; it listens only once InnoDB has recovered, so a handshake means it takes queries.
    probe: async () => /^.{4}\n\d+\.\d+/s.test((await exchange(port, null)) ?? ""),
  });
  await server.start();
  return server;
}

/**
 * A private Redis, as BullMQ needs it (`maxmemory-policy noeviction`), holding nothing on disk: a restart after
 * `kill()` comes back empty, the worst case for what lives only in Redis. Started before it is returned.
 */
export async function startPrivateRedis(): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), "certchain-redis-"));
  const port = await freePort();
  const server = privateServer({
    name: "redis",
    dir,
    port,
    url: `redis://127.0.0.1:${port}`,
    command: REDIS,
    args: [
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
      ...["--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
    ],
    probe: async () => /^\+PONG/.test((await exchange(port, "PING\r\n")) ?? ""),
  });
  await server.start();
  return server;
}

type ServerSpec = {
  name: string;
  dir: string;
  port: number;
  url: string;
  command: string;
  args: string[];
  /** Where the server logs, when not to its stdout/stderr. */
  logFile?: string;
  probe(): Promise<boolean>;
};

function privateServer(spec: ServerSpec): PrivateServer {
  const pidFile = join(spec.dir, "server.pid");
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  let disposed = false;
  const watchdog = startWatchdog(pidFile, spec.dir);
  const cleanUp = () => {
    child?.kill("SIGKILL");
    watchdog.kill("SIGKILL");
    rmSync(spec.dir, { recursive: true, force: true });
  };
  process.once("exit", cleanUp);

  const log = () => {
    let text = output;
    if (spec.logFile) {
      try {
        text = readFileSync(spec.logFile, "utf8");
      } catch {}
    }
    return text.split("\n").slice(-30).join("\n");
  };

  const kill = async () => {
    if (!child) return;
    child.kill("SIGKILL");
    await exited;
    child = undefined;
    // Its pid may be reused by another process: the watchdog must not find it.
    rmSync(pidFile, { force: true });
  };

  return {
    name: spec.name,
    port: spec.port,
    url: spec.url,
    get running() {
      return child !== undefined;
    },
    log,
    async start() {
      if (disposed) throw new Error(`the private ${spec.name} was disposed`);
      if (child) return;
      const started = spawn(spec.command, spec.args, { stdio: ["ignore", "pipe", "pipe"] });
      child = started;
      writeFileSync(pidFile, String(started.pid));
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
      };
      started.stdout?.on("data", keep);
      started.stderr?.on("data", keep);
      exited = new Promise((resolve) => started.once("exit", () => resolve()));
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(await spec.probe())) {
        if (started.exitCode !== null || started.signalCode !== null || Date.now() > deadline) {
          await kill();
          throw new Error(`the private ${spec.name} on port ${spec.port} did not start:\n${log()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    kill,
    freeze() {
      if (!child) throw new Error(`the private ${spec.name} is not running`);
      child.kill("SIGSTOP");
    },
    thaw() {
      child?.kill("SIGCONT");
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await kill();
      process.removeListener("exit", cleanUp);
      cleanUp();
    },
  };
}

/**
 * A shell that outlives nothing: when the test process dies without cleaning up (a worker killed on timeout), it kills
 * the server it was watching and deletes the data, so no server is left running on a shared machine.
 */
function startWatchdog(pidFile: string, dir: string): ChildProcess {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done; [ -f "$2" ] && kill -9 "$(cat "$2")" 2>/dev/null; rm -rf "$3"`;
  const watchdog = spawn("sh", ["-c", script, "watchdog", String(process.pid), pidFile, dir], {
    stdio: "ignore",
    detached: true,
  });
  watchdog.unref();
  return watchdog;
}

/**
 * Opens a TCP connection to 127.0.0.1:`port` and resolves with the first bytes that come back after writing `send` (or,
 * when `send` is null, the server's greeting); null when nothing listens or nothing comes in time.
 */
function exchange(port: number, send: string | null): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (value: string | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(null));
    socket.once("error", () => done(null));
    socket.once("connect", () => {
      if (send !== null) socket.write(send);
    });
    socket.once("data", (chunk) => done(chunk.toString("latin1")));
  });
}
