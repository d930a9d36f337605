import { authRouter } from "./routers/auth.ts";
import { router } from "./trpc.ts";

/** Every router of the API, by the names in ARCHITECTURE.md; clients import only `type AppRouter`. */
export const appRouter = router({
  auth: authRouter,
});

export type AppRouter = typeof appRouter;
