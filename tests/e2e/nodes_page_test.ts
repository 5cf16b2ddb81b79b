/**
 * The nodes page (issue #16) in a real Chromium against a real `postern
 * start` with 121 nodes (one real sshd, 120 declared at a closed port):
 * whether each answers, sorting by column, and pages past 100 nodes, all
 * kept in the URL. Screenshots land in `test-output/screenshots/nodes-*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { eventually } from "../helpers/browser.ts";
import { BROWSER_TEST, pageFetch, startWebEnv } from "../helpers/web_env.ts";

/** A port nothing listens on: nodes there are offline. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Generous waits: the machine may be busy. */
const WAIT = { timeout: 30_000 };

Deno.test({
  name: "nodes: online or offline from a probe, sorted by column, a page at a time past 100 nodes",
  ...BROWSER_TEST,
}, async () => {
  const port = closedPort();
  const declared = Array.from({ length: 120 }, (_, i) => `node-${String(i + 1).padStart(3, "0")}`);
  const extraConfig = [
    "nodes:",
    ...declared.flatMap((name) => [`  - name: ${name}`, `    addr: 127.0.0.1:${port}`]),
  ].join("\n");
  await using env = await startWebEnv("nodes", { extraConfig });
  const alice = await env.cluster.createUser("alice", { logins: ["root"] });
  const page = await env.signIn(alice);
  await page.goto(`${env.base}/web/nodes`);
  const table = page.getByTestId("nodes-table");
  const rows = table.locator("tr[data-node]");
  const names = () => table.locator('td[data-label="Name"]').allInnerTexts();
  await eventually(async () => assert.equal(await rows.count(), 25), WAIT);
  assert.equal((await names())[0], "node-001");
  assert.match(await page.locator(".table-foot").innerText(), /Showing 1–25 of 121 matching nodes/);

  // The proxy probes the listed nodes: saturn's sshd answers, the others refuse.
  await page.getByRole("button", { name: /^Status/ }).click();
  await eventually(async () => {
    assert.equal(await rows.first().getAttribute("data-node"), "saturn");
    assert.equal(await rows.first().getAttribute("data-status"), "online");
    assert.equal(await rows.nth(1).getAttribute("data-status"), "offline");
  }, { timeout: 30_000, message: "the nodes were never shown online and offline" });
  assert.equal(await rows.first().locator(".badge").innerText(), "Online");
  const offline = rows.nth(1).locator(".badge");
  assert.equal(await offline.innerText(), "Offline");
  assert.match((await offline.getAttribute("title"))!, /connection refused/);
  assert.equal(
    await table.locator("th", { hasText: "Status" }).getAttribute("aria-sort"),
    "ascending",
  );

  // Name, descending; then 100 a page, the second page holding the rest.
  await page.getByRole("button", { name: /^Name/ }).click();
  await page.getByRole("button", { name: /^Name/ }).click();
  await eventually(async () => assert.equal((await names())[0], "saturn"), WAIT);
  assert.equal((await names())[1], "node-120");
  const pager = page.getByRole("navigation", { name: "Nodes pages" });
  await pager.getByLabel("Per page").selectOption("100");
  await eventually(async () => assert.equal(await rows.count(), 100), WAIT);
  await pager.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.equal(await rows.count(), 21), WAIT);
  assert.equal((await names()).at(-1), "node-001");
  assert.equal(await pager.getByRole("button", { name: "Next" }).isDisabled(), true);
  const kept = new URL(page.url()).searchParams;
  assert.deepEqual(
    ["sort", "page", "per_page"].map((name) => kept.get(name)),
    ["-name", "2", "100"],
  );
  await page.reload();
  await eventually(async () => assert.equal(await rows.count(), 21), WAIT);
  await env.screenshot(page, "page-2");

  // Filters narrow before paging; the API says each node's state.
  await page.getByLabel("Search").fill("node-11");
  await eventually(async () => assert.equal(await rows.count(), 10), WAIT);
  assert.equal(await pager.count(), 0, "one page needs no pager");
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "filtered-400");
  const { cluster } = JSON.parse((await pageFetch(page, "/v1/webapi/sessions/current")).body);
  const { items } = JSON.parse((await pageFetch(page, `/v1/webapi/sites/${cluster}/nodes`)).body);
  assert.equal(items.length, 121);
  const saturn = items.find((n: { name: string }) => n.name === "saturn");
  assert.equal(saturn.status, "online");
  assert.ok(Date.parse(saturn.status_checked) > 0);
  assert.deepEqual(env.problems([]), []);
});
