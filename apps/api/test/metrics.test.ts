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

test("behavior: a tRPC call is labelled as tRPC reads its path, percent-encoded or not", async () => {
  const labels = {
    batch: 'method="GET",route="trpc:batch",status="404"',
    single: 'method="GET",route="trpc:certificates.get",status="404"',
    undecodable: 'method="GET",route="trpc:unknown",status="400"',
  };
  const counts = async () => {
    const text = await (await api.app.request("/metrics")).text();
    expect(text).not.toMatch(/%2C|%2E/i);
    return {
      batch: countOf(text, labels.batch),
      single: countOf(text, labels.single),
      undecodable: countOf(text, labels.undecodable),
    };
  };
  const before = await counts();
  const input = encodeURIComponent(JSON.stringify({ 0: { tokenId: 1 }, 1: { tokenId: 2 } }));
  // Both calls of the batch ask for certificates nobody issued: 404 each, so 404 for the batch.
  await api.app.request(`/trpc/certificates.get%2Ccertificates.get?batch=1&input=${input}`);
  await api.app.request(`/trpc/certificates%2Eget?input=${encodeURIComponent('{"tokenId":1}')}`);
  // A path tRPC cannot decode calls nothing: 400.
  await api.app.request("/trpc/certificates.get%E0%A4%A");
  const after = await counts();
  expect(after).toEqual({ batch: before.batch + 1, single: before.single + 1, undecodable: before.undecodable + 1 });
});
