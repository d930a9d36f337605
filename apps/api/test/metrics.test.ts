import { afterAll, beforeAll, expect, test } from "vitest";
import { createTestApi, type TestApi } from "./helpers.ts";

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

const countOf = (text: string, labels: string) =>
  Number(text.match(new RegExp(`api_http_request_duration_seconds_count\\{${labels}\\} (\\d+)`))?.[1] ?? 0);

test("default: /metrics counts requests by route pattern or procedure and status, never by raw path", async () => {
  await api.app.request("/api/certificates/5");
  await api.app.request("/api/certificates/6");
  await api.app.request(`/trpc/certificates.get?input=${encodeURIComponent('{"tokenId":1}')}`);
  await api.app.request("/no/such/path");
  const response = await api.app.request("/metrics");
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await response.text();
  expect(countOf(text, 'method="GET",route="/api/certificates/:id",status="404"')).toBe(2);
  expect(countOf(text, 'method="GET",route="trpc:certificates.get",status="404"')).toBe(1);
  expect(countOf(text, 'method="GET",route="unmatched",status="404"')).toBe(1);
  expect(text).not.toContain("/no/such/path");
  expect(text).toContain("api_process_cpu_seconds_total");
});

test("behavior: /metrics shows the database pool's size, connections in use and waits", async () => {
  await api.app.request("/api/certificates/5");
  const text = await (await api.app.request("/metrics")).text();
  // createTestApi's pool has 4 connections and nothing holds one between requests.
  expect(text).toMatch(/^certchain_db_pool_connections\{state="max"\} 4$/m);
  expect(text).toMatch(/^certchain_db_pool_connections\{state="in_use"\} 0$/m);
  expect(text).toMatch(/^certchain_db_pool_waits_total \d+$/m);
});
