import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig } from "@certchain/common";
import { createConnection } from "mysql2/promise";
import { afterAll, expect, test } from "vitest";
import { withDatabase } from "../src/url.ts";

/** Every migration committed under `migrations/`, as drizzle's journal lists them. */
const migrationCount: number = JSON.parse(
  readFileSync(new URL("../migrations/meta/_journal.json", import.meta.url), "utf8"),
).entries.length;

/* `npm run db:migrate` is `tsx src/migrate-cli.ts`; run it the same way, as a child process. */

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const serverUrl = loadConfig().databaseUrl;
const created: string[] = [];

type Outcome = { code: number | null; stdout: string; stderr: string };

function runMigrateCli(databaseUrl: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // `node --import tsx` is what the `tsx` binary does, without npx's own notices on stderr.
    const child = spawn(process.execPath, ["--import", "tsx", "src/migrate-cli.ts"], {
      cwd: packageDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "test", DATABASE_URL: databaseUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

afterAll(async () => {
  const connection = await createConnection(withDatabase(serverUrl, "information_schema"));
  for (const name of created) await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await connection.end();
});

test("error: MySQL unreachable → one line naming the address and the fix, exit 1, no stack, no password", async () => {
  const outcome = await runMigrateCli("mysql://root:hunter2@127.0.0.1:1/certchain");
  expect(outcome.code).toBe(1);
  expect(outcome.stdout).toBe("");
  const lines = outcome.stderr.trimEnd().split("\n");
  expect(lines).toEqual([
    "db:migrate: cannot reach MySQL at 127.0.0.1:1 (DATABASE_URL): connection refused — start MariaDB " +
      "(start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) or set DATABASE_URL",
  ]);
  expect(outcome.stderr).not.toContain("hunter2");
});

test("error: an invalid DATABASE_URL → one line naming the variable, exit 1", async () => {
  const outcome = await runMigrateCli("nonsense");
  expect(outcome.code).toBe(1);
  expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(outcome.stderr).toMatch(/^db:migrate: .*DATABASE_URL/);
});

test("default: migrates, then reports the database up to date", async () => {
  const name = `certchain_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  created.push(name);
  const url = withDatabase(serverUrl, name);
  const first = await runMigrateCli(url);
  expect(first).toMatchObject({ code: 0, stderr: "" });
  expect(first.stdout).toMatch(
    new RegExp(`^db:migrate: database ${name} at .* created, applied ${migrationCount} migrations?`),
  );
  const second = await runMigrateCli(url);
  expect(second).toMatchObject({ code: 0, stderr: "" });
  expect(second.stdout).toMatch(/already up to date/);
});
