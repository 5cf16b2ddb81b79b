import assert from "node:assert/strict";
import { join } from "node:path";
import { createWebHandler } from "../../lib/proxy/web/server.ts";
import { readJson } from "../../lib/proxy/web/http.ts";
import { serveAsset, UI_DIST_DIR } from "../../lib/proxy/web/assets.ts";
import { createLogger } from "../../lib/log.ts";
import { isKind } from "../../lib/errors.ts";

const log = createLogger({ level: "error", write: () => {} });
const handler = createWebHandler({ log });
const get = (path: string, init?: RequestInit) =>
  handler(new Request(`https://proxy.test${path}`, init), "127.0.0.1");

Deno.test("web handler answers /healthz with security headers", async () => {
  const response = await get("/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
  const headers = response.headers;
  assert.match(headers.get("strict-transport-security")!, /max-age=\d+/);
  assert.match(headers.get("content-security-policy")!, /script-src 'self'/);
  assert.doesNotMatch(headers.get("content-security-policy")!, /script-src[^;]*unsafe-inline/);
  assert.equal(headers.get("x-frame-options"), "DENY");
  assert.equal(headers.get("x-content-type-options"), "nosniff");
  assert.equal(headers.get("referrer-policy"), "no-referrer");
});

Deno.test("/readyz answers 503 with the reason while a dependency is not ready", async () => {
  let reason: string | null = "the store does not answer: disk I/O error";
  const readiness = createWebHandler({ log, notReadyReason: () => Promise.resolve(reason) });
  const down = await readiness(new Request("https://proxy.test/readyz"), "127.0.0.1");
  assert.equal(down.status, 503);
  assert.deepEqual(await down.json(), { status: "unavailable", reason });
  reason = null;
  const up = await readiness(new Request("https://proxy.test/readyz"), "127.0.0.1");
  assert.equal(up.status, 200);
  assert.deepEqual(await up.json(), { status: "ready" });
});

Deno.test("web handler returns JSON 404 for unknown API routes", async () => {
  const response = await get("/v1/webapi/nope");
  assert.equal(response.status, 404);
  const body = await response.json();
  assert.equal(body.error.kind, "not_found");
  assert.match(body.error.message, /No API route GET \/v1\/webapi\/nope/);
});

Deno.test("web handler returns 405 with Allow for a wrong method", async () => {
  const response = await get("/healthz", { method: "POST" });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("allow"), "GET");
});

Deno.test("web handler serves the UI shell for /web/ routes", async () => {
  for (const path of ["/web/", "/web/nodes", "/web/invite/abc"]) {
    const response = await get(path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(await response.text(), /<div id="app">/);
  }
  const root = await get("/");
  assert.equal(root.status, 302);
  assert.equal(root.headers.get("location"), "https://proxy.test/web/");
});

Deno.test("serveAsset() reads ui/dist relative to the module with the right type", async () => {
  const index = await serveAsset("index.html");
  assert.ok(index);
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await index.text();
  assert.equal(html, await Deno.readTextFile(join(UI_DIST_DIR, "index.html")));
  const script = html.match(/src="\/assets\/([^"]+\.js)"/)![1];
  const js = await serveAsset(`assets/${script}`);
  assert.equal(js!.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(js!.headers.get("cache-control")!, /immutable/);
  await js!.body?.cancel();
});

Deno.test("serveAsset() refuses paths outside the UI directory", async () => {
  assert.equal(await serveAsset("../../../deno.json"), undefined);
  assert.equal(await serveAsset("/../../main.ts"), undefined);
  const response = await get("/assets/..%2f..%2fdeno.json");
  assert.equal(response.status, 404);
});

Deno.test("readJson() rejects bodies over the limit, bad JSON and non-objects", async () => {
  const post = (body: string, type = "application/json; charset=utf-8") =>
    new Request("https://x/", { method: "POST", body, headers: { "content-type": type } });
  await assert.rejects(readJson(post("x".repeat(70_000))), (e) => isKind(e, "too_large"));
  // What a cross-site form can send is not JSON, whatever it contains.
  await assert.rejects(readJson(post('{"a":1}', "text/plain")), (e) => isKind(e, "bad_request"));
  await assert.rejects(readJson(post("{")), (e) => isKind(e, "bad_request"));
  await assert.rejects(readJson(post("[1]")), (e) => isKind(e, "bad_request"));
  assert.deepEqual(await readJson(post('{"a":1}')), { a: 1 });
});

Deno.test("every log line of a request carries its request id, which the response names", async () => {
  const lines: string[] = [];
  const jsonLog = createLogger({ format: "json", write: (line) => lines.push(line) }).child("web");
  const traced = createWebHandler({
    log: jsonLog,
    routes: (router) =>
      router.on("GET", "/v1/webapi/fails", async () => {
        jsonLog.info("before the await");
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw new Error("a bug");
      }),
  });
  const response = await traced(new Request("https://proxy.test/v1/webapi/fails"), "127.0.0.1");
  assert.equal(response.status, 500);
  const requestId = response.headers.get("x-request-id");
  assert.match(requestId ?? "", /^[0-9a-f]{16}$/);
  const entries = lines.map((line) => JSON.parse(line));
  assert.deepEqual(entries.map((entry) => [entry.msg, entry.request_id, entry.component]), [
    ["before the await", requestId, "web"],
    ["internal error in HTTP request", requestId, "web"],
  ]);
  for (const entry of entries) assert.match(entry.ts, /^\d{4}-\d\d-\d\dT/);
});
