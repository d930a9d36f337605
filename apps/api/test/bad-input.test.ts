import { users } from "@certchain/db";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { appRouter } from "../src/root.ts";
import { bearer, createTestApi, type TestApi } from "./helpers.ts";
import { access, type Level } from "./procedure-access.ts";
import { inputKeys } from "./procedure-inputs.ts";

/**
 * Bad input for every procedure, generated from each one's zod input: wrong shapes, extra fields, and for every field
 * wrong types, huge strings, negative and oversized numbers, malformed addresses, SQL and HTML. Every answer must be a
 * 4xx or a normal result, never a 500; and when a call is refused, no table may have changed.
 */
const HUGE = "x".repeat(200_000);
const fieldValues: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 64,
  Number.MAX_VALUE,
  "",
  HUGE,
  "' OR '1'='1' --",
  "1; DROP TABLE users; --",
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "0xZZZZ",
  "0x12345",
  [],
  { nested: { deep: true } },
];
const wholeInputs: unknown[] = [
  42,
  "string",
  [],
  [1, 2],
  { unexpected: "field" },
  JSON.parse('{"__proto__":{"role":"admin"}}'),
];

let api: TestApi;

async function tableCounts(): Promise<Record<string, number>> {
  const [rows] = (await api.deps.db.execute(
    sql`SELECT TABLE_NAME AS name, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`,
  )) as unknown as [Array<{ name: string }>];
  const counts: Record<string, number> = {};
  for (const { name } of rows) {
    const [[row]] = (await api.deps.db.execute(sql.raw(`SELECT COUNT(*) AS n FROM \`${name}\``))) as unknown as [
      Array<{ n: number }>,
    ];
    counts[name] = Number(row?.n);
  }
  return counts;
}

beforeAll(async () => {
  api = await createTestApi();
  for (const role of ["user", "issuer", "admin"] as const) {
    await api.mutation("auth.register", {
      username: `fuzz_${role}`,
      email: `${role}@fuzz.example`,
      password: "long enough pw",
    });
    await api.deps.db
      .update(users)
      .set({ role })
      .where(eq(users.username, `fuzz_${role}`));
  }
});

afterAll(() => api.close());

/**
 * A fresh session with the role the procedure requires, so one that ends its session (logout) cannot disarm the
 * next, and what is tested is the procedure's input handling rather than its access check.
 */
async function freshSession(level: Level): Promise<Record<string, string>> {
  if (level === "public") return {};
  const login = await api.mutation("auth.login", { login: `fuzz_${level}`, password: "long enough pw" });
  return bearer(login.body.result.data.token);
}

const procedures = Object.entries(appRouter._def.procedures);

describe.each(procedures)("%s", (path, procedure) => {
  const entry = access[path];
  const keys = inputKeys(procedure);
  const base = (entry?.input ?? {}) as Record<string, unknown>;
  const inputs = [
    ...wholeInputs,
    ...keys.flatMap((key) => fieldValues.map((value) => ({ ...base, [key]: value }))),
    ...keys.map((key) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key))),
  ];

  test(`error: ${inputs.length} malformed inputs give 4xx (never 500) and refused calls write nothing`, async () => {
    // Writes would happen only through mutations; queries are checked for status alone, which keeps this fast.
    const headers = await freshSession(entry?.level ?? "user");
    const call = entry?.kind === "mutation" ? api.mutation : api.query;
    for (const input of inputs) {
      const before = entry?.kind === "mutation" ? await tableCounts() : undefined;
      const result = await call(path, input, headers);
      const label = `${path} with ${JSON.stringify(input)?.slice(0, 120)}`;
      expect(result.status, label).toBeLessThan(500);
      // The session passes a protected procedure's checks, so a 401/403 would mean its input was never examined.
      if (entry?.level !== "public") expect([401, 403], label).not.toContain(result.status);
      if (before && result.status >= 400) expect(await tableCounts()).toEqual(before);
      // Logout procedures take no input and succeed, ending the session: one call says all there is to say.
      if (path === "auth.logout" || path === "auth.logoutAll") break;
    }
  });
});
