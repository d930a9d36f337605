/**
 * Load for the API benchmark: servers run as their own `node` processes (bundled like the kill tests' daemons), so
 * autocannon in this process does not share their event loop, and each run reports the server's CPU use.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { repoRoot } from "@certchain/common";
import { bundleEntryForTest } from "@certchain/common/testing";
import autocannon from "autocannon";

/**
 * Each measured run is preceded by this many unrecorded requests, so V8 has optimized the path and the pools are
 * full (a server's first run asks for more, see `warmupRequests`). Two seconds of warm-up were not enough: the API's
 * first run then cost 2.4 ms of CPU per response, and the same run repeated later 0.9 ms.
 */
const WARMUP_REQUESTS = 2_000;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
/** Longer than any request takes under load (auth.login's p99 is under a second). */
const SETTLE_MS = 2_000;
/** Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = 100;
/** Non-2xx responses kept per run, to print. */
const FAILURE_SAMPLES = 3;

export type ServerProcess = {
  name: string;
  baseUrl: string;
  /** CPU seconds (user + system) the process has used so far; undefined where /proc is missing. */
  cpuSeconds(): number | undefined;
  stop(): Promise<void>;
};

/**
 * Bundles `entry` (relative to the repository) and starts it with plain `node`, forwarding its output to stderr
 * prefixed with `name`; resolves once `readyPath` answers 200.
 */
export async function startServerProcess(options: {
  name: string;
  entry: string;
  args?: string[];
  /** Flags for `node` itself (see `startScriptNodeFlags`). */
  nodeFlags?: string[];
  env: Record<string, string>;
  port: number;
  readyPath: string;
}): Promise<ServerProcess> {
  const bundle = await bundleEntryForTest(options.entry);
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), bundle, ...(options.args ?? [])], {
    // Only what the server is given, so a developer's .env or shell cannot change what is measured.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => process.stderr.write(`[${options.name}] ${line}\n`));
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const server: ServerProcess = {
    name: options.name,
    baseUrl,
    cpuSeconds: () => cpuSecondsOf(child),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // autocannon drops its connections at the end of a run with requests still being handled; the servers' shutdown
      // does not wait for requests whose client has gone, so give them a moment rather than log their failures.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited with status ${child.exitCode} on start-up`);
    const ok = await fetch(`${baseUrl}${options.readyPath}`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} did not answer ${options.readyPath} within ${READY_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The node flags a workspace's `start` script gives its daemon (`tsx --max-semi-space-size=32 src/main.ts`), so the
 * benchmark measures it as `npm run api` runs it. Flags node does not know (tsx's own) are left out.
 */
export function startScriptNodeFlags(workspace: string): string[] {
  const manifest = JSON.parse(readFileSync(join(repoRoot, workspace, "package.json"), "utf8")) as {
    scripts?: { start?: string };
  };
  return (manifest.scripts?.start ?? "")
    .split(/\s+/)
    .filter((word) => word.startsWith("--") && process.allowedNodeEnvironmentFlags.has(word.split("=")[0] ?? word));
}

function cpuSecondsOf(child: ChildProcess): number | undefined {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export type LoadTarget = {
  label: string;
  connections: number;
  method?: "GET" | "POST";
  /** One path, or a function giving each request its own (random ids). */
  path: string | (() => string);
  headers?: Record<string, string>;
  body?: string;
  /** Unrecorded requests before the run; WARMUP_REQUESTS unless the target is slow by design. */
  warmupRequests?: number;
};

export type LoadResult = {
  label: string;
  connections: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx responses plus connection errors and timeouts: 0 in a good run. */
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** The server's CPU use over the run, in cores (1 = one core busy throughout). */
  serverCores: number | undefined;
  /**
   * The server's CPU time per response, in ms: what a request costs the stack itself, which other processes on the
   * machine change far less than they change requests/s.
   */
  serverCpuMsPerRequest: number | undefined;
  /** The first few non-2xx responses, `<status> <body>`. */
  failureSamples: string[];
  /** For a mean of several runs (`meanOfRuns`): each run's requests/s. */
  perRunRequestsPerSecond?: number[];
};

/** Drives `target` against `server` for `seconds` (after its warm-up) at its number of connections. */
export async function runLoad(server: ServerProcess, target: LoadTarget, seconds: number): Promise<LoadResult> {
  const failureSamples: string[] = [];
  const { path } = target;
  const request: autocannon.Request = {
    method: target.method ?? "GET",
    path: typeof path === "string" ? path : path(),
    headers: target.headers ?? {},
    ...(target.body === undefined ? {} : { body: target.body }),
    ...(typeof path === "string" ? {} : { setupRequest: (req: autocannon.Request) => ({ ...req, path: path() }) }),
    onResponse: (status, body) => {
      if ((status < 200 || status >= 300) && failureSamples.length < FAILURE_SAMPLES) {
        failureSamples.push(`${status} ${body.slice(0, 300)}`);
      }
    },
  };
  const base = { url: server.baseUrl, connections: target.connections, requests: [request] };

  await autocannon({ ...base, amount: Math.max(target.warmupRequests ?? WARMUP_REQUESTS, target.connections) });
  failureSamples.length = 0;
  const cpuBefore = server.cpuSeconds();
  const result = await autocannon({ ...base, duration: seconds });
  const cpuAfter = server.cpuSeconds();
  const cpuSeconds = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
  const statusCodes = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, Number(count)]),
  );
  return {
    label: target.label,
    connections: target.connections,
    seconds,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors: result.non2xx + result.errors,
    non2xx: result.non2xx,
    statusCodes,
    serverCores: cpuSeconds === undefined ? undefined : Math.round((cpuSeconds / result.duration) * 100) / 100,
    serverCpuMsPerRequest:
      cpuSeconds === undefined || result.requests.total === 0
        ? undefined
        : Math.round((cpuSeconds * 1000 * 1000) / result.requests.total) / 1000,
    failureSamples,
  };
}
