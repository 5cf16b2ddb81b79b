/**
 * The Cluster status page in a real Chromium: an admin sees the counts, the
 * certificate authorities with the fingerprint `ca export` gives, and the
 * proxy; a user without the nodes permission neither sees the link nor gets
 * the status from the API.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fingerprint, parsePublicKeyLine } from "../../lib/sshcert/mod.ts";
import { BROWSER_TEST, pageFetch, startWebEnv } from "../helpers/web_env.ts";

Deno.test({
  name: "an admin sees the cluster status page; others do not",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("cluster");
  const carol = await env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] });
  const alice = await env.cluster.createUser("alice", { roles: ["access"], logins: ["root"] });

  const page = await env.signIn(carol);
  await page.getByRole("link", { name: "Cluster status" }).click();
  await page.waitForURL((url) => url.pathname === "/web/admin/cluster");
  await page.getByRole("heading", { name: "Cluster status" }).waitFor();
  assert.equal(await page.getByTestId("count-users").textContent(), "3");
  assert.equal(await page.getByTestId("count-nodes").textContent(), "1");
  assert.equal(await page.getByTestId("count-live-sessions").textContent(), "0");
  const userCa = (await env.cluster.admin("ca", "export", "--type", "user")).stdout.trim();
  const userCaRow = page.getByTestId("cluster-cas-table").locator('tr[data-ca="user"]');
  assert.match(
    (await userCaRow.textContent()) ?? "",
    new RegExp(fingerprint(parsePublicKeyLine(userCa).key).replace(/[+/]/g, "\\$&")),
  );
  assert.equal(
    await page.getByTestId("cluster-cas-table").locator("tbody tr").count(),
    3,
  );
  const proxyRow = page.getByTestId("cluster-proxies-table").locator("tbody tr").first();
  assert.match((await proxyRow.textContent()) ?? "", /local@/);
  await env.screenshot(page, "status");

  const other = await env.signIn(alice);
  assert.equal(await other.getByRole("link", { name: "Cluster status" }).count(), 0);
  const refused = await pageFetch(other, "/v1/webapi/sites/postern/status");
  assert.equal(refused.status, 403, refused.body);
  assert.deepEqual(env.problems([{ status: 403, path: /\/status$/ }]), []);
});
