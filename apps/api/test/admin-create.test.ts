import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@certchain/common";
import { users } from "@certchain/db";
import { createTestDatabase, type TestDatabase } from "@certchain/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

/** Runs the real command against the test database, the password piped on stdin. */
function adminCreate(args: string[], password = "a strong admin password") {
  const result = spawnSync(join(repoRoot, "node_modules/.bin/tsx"), ["apps/api/src/cli/admin-create.ts", ...args], {
    cwd: repoRoot,
    input: `${password}\n`,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: database.url },
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

describe("npm run admin:create", () => {
  test("default: creates an admin with an argon2id password", async () => {
    const run = adminCreate(["--username", "first_admin", "--email", "Admin@Example.org", "--password-stdin"]);
    expect(run).toMatchObject({ status: 0, stderr: "" });
    expect(run.stdout).toMatch(/^admin:create: created admin first_admin \(id \d+\)$/);
    const [row] = await database.db.select().from(users).where(eq(users.username, "first_admin"));
    expect(row).toMatchObject({ role: "admin", email: "admin@example.org" });
    expect(row?.passwordHash).toMatch(/^\$argon2id\$/);
  });

  test("behavior: running it again changes nothing; an existing user is promoted only with --promote", async () => {
    expect(
      adminCreate(["--username", "first_admin", "--email", "admin@example.org", "--password-stdin"]).stdout,
    ).toContain("is already an admin");
    await database.db
      .insert(users)
      .values({ username: "carol", email: "carol@example.org", passwordHash: "x", role: "user" });
    const refused = adminCreate(["--username", "carol", "--email", "carol@example.org", "--password-stdin"]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("run again with --promote");
    const [before] = await database.db.select().from(users).where(eq(users.username, "carol"));
    expect(before?.role).toBe("user");
    const promoted = adminCreate(["--username", "carol", "--email", "carol@example.org", "--promote"]);
    expect(promoted.stdout).toContain("promoted carol");
    const [carol] = await database.db.select().from(users).where(eq(users.username, "carol"));
    expect(carol?.role).toBe("admin");
  });

  test.each([
    [["--username", "x", "--email", "x@example.org", "--password-stdin"], "--username must be at least 3 characters"],
    [["--username", "dave", "--email", "nope", "--password-stdin"], "--email must be an email address"],
    [["--username", "first_admin", "--email", "carol@example.org", "--password-stdin"], "match different accounts"],
  ])("error: %j prints one line and exits 1", (args, message) => {
    const run = adminCreate(args);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
    expect(run.stderr.split("\n")).toHaveLength(1);
  });

  test("error: a short password is refused and no account is created", async () => {
    const run = adminCreate(["--username", "erin", "--email", "erin@example.org", "--password-stdin"], "short");
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("admin:create: the password must be at least 8 characters");
    expect(await database.db.select().from(users).where(eq(users.username, "erin"))).toEqual([]);
  });
});
