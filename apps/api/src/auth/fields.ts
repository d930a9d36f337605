import { z } from "zod";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "./passwords.ts";

/** Account fields, shared by `auth.register` and `npm run admin:create`. */
export const username = z
  .string()
  .trim()
  .min(3, "must be at least 3 characters")
  .max(50, "must be at most 50 characters")
  .regex(/^[A-Za-z0-9_.-]+$/, "may contain only letters, digits, '_', '.' and '-'");
export const email = z.email("must be an email address").max(100, "must be at most 100 characters");
export const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
