export { createApp } from "./app.ts";
export { type ApiDeps, type Context, createContextInner } from "./context.ts";
export { createApiDeps } from "./deps.ts";
export { type AppRouter, appRouter } from "./root.ts";
