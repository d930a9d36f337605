/**
 * `npm run admin:create -- --username <name> --email <address> [--password-stdin] [--promote]`: creates the first
 * admin; without `--password-stdin` it prompts for the password twice. An existing account is promoted only with
 * `--promote`: registration is open, so someone could have registered the name an operator is about to use.
 */
import { parseArgs } from "node:util";
import { loadConfig, runMain, UserFacingError } from "@certchain/common";
import { createDb, pingDatabase, users } from "@certchain/db";
import { eq, or } from "drizzle-orm";
import type { z } from "zod";
import { email, password, username } from "../auth/fields.ts";
import { hashPassword } from "../auth/passwords.ts";
import { promptHidden, readStdin } from "./read-password.ts";

function parseField<T extends z.ZodTypeAny>(schema: T, value: unknown, flag: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UserFacingError(`${flag} ${result.error.issues[0]?.message ?? "is not valid"}`);
  return result.data;
}

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) return parseField(password, await readStdin(), "the password");
  if (!process.stdin.isTTY)
    throw new UserFacingError("no terminal to prompt on; pipe the password with --password-stdin");
  const first = parseField(password, await promptHidden("Password: "), "the password");
  if ((await promptHidden("Repeat password: ")) !== first) throw new UserFacingError("the passwords do not match");
  return first;
}

runMain("admin:create", async () => {
  const { values } = parseArgs({
    options: {
      username: { type: "string" },
      email: { type: "string" },
      "password-stdin": { type: "boolean", default: false },
      promote: { type: "boolean", default: false },
    },
  });
  const name = parseField(username, values.username, "--username");
  const address = parseField(email, values.email, "--email").toLowerCase();
  const config = loadConfig();
  const database = createDb(config.databaseUrl, { poolSize: 1 });
  try {
    await pingDatabase(database, config.databaseUrl);
    const [existing] = await database.db
      .select({ id: users.id, username: users.username, email: users.email, role: users.role })
      .from(users)
      .where(or(eq(users.username, name), eq(users.email, address)));
    if (existing) {
      if (existing.username.toLowerCase() !== name.toLowerCase() || existing.email !== address) {
        throw new UserFacingError(
          "--username and --email match different accounts; give both of one account, or new ones",
        );
      }
      if (existing.role === "admin") {
        console.log(`admin:create: ${existing.username} is already an admin (id ${existing.id})`);
        return;
      }
      if (!values.promote) {
        throw new UserFacingError(
          `${existing.username} already exists as ${existing.role}; if that account is yours, run again with --promote`,
        );
      }
      await database.db.update(users).set({ role: "admin" }).where(eq(users.id, existing.id));
      console.log(`admin:create: promoted ${existing.username} (id ${existing.id}) from ${existing.role} to admin`);
      return;
    }
    const passwordHash = await hashPassword(await readPassword(values["password-stdin"]));
    const [created] = await database.db
      .insert(users)
      .values({ username: name, email: address, passwordHash, role: "admin" })
      .$returningId();
    console.log(`admin:create: created admin ${name} (id ${created?.id})`);
  } finally {
    await database.close();
  }
});
