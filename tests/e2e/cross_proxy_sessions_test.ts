/**
 * Live sessions across proxies in a real browser: with auth and two proxies
 * as separate processes, a session started through proxy A is listed on
 * proxy B's Sessions page, watched from B as an observer (over the peer
 * link), and ended from B by an admin; its user sees who ended it.
 */

import assert from "node:assert/strict";
import { eventually } from "../helpers/browser.ts";
import { identityOptions, spawnSsh, waitForAudit } from "../helpers/gateway.ts";
import { defaultSshOptions } from "../helpers/sshd.ts";
import { BROWSER_TEST, startWebEnv, terminalText } from "../helpers/web_env.ts";

Deno.test({
  name: "sessions page: a session on proxy A is watched and ended from proxy B",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("cross-proxy", { split: true });
  const [proxyA] = env.cluster.proxies;
  const alice = await env.cluster.createUser("alice", { logins: ["root"] });
  const bob = await env.cluster.createUser("bob", { roles: ["admin"], logins: ["root"] });
  const aliceId = await env.cluster.login(alice);
  const ssh = spawnSsh([
    ...defaultSshOptions,
    ...identityOptions(aliceId),
    "-tt",
    "-p",
    String(proxyA.sshPort),
    "root:saturn@127.0.0.1",
    "cat",
  ]);
  await ssh.type("hello-from-a\n");
  await ssh.stdout.waitFor(/hello-from-a/);
  const start = await waitForAudit(env.cluster, "session.start", (e) => e.user === "alice");
  const id = String(start.session_id);

  const page = await env.signIn(bob);
  await page.goto(`${env.base}/web/sessions`);
  const row = page.locator(`[data-session-id="${id}"]`);
  await row.waitFor({ timeout: 15_000 });
  await row.getByRole("button", { name: "Join as observer" }).click();
  await eventually(async () => assert.match(await terminalText(page), /hello-from-a/), {
    timeout: 15_000,
  });
  await ssh.type("more-from-a\n");
  await eventually(async () => assert.match(await terminalText(page), /more-from-a/), {
    timeout: 15_000,
  });

  const admin = await env.signIn(bob);
  await admin.goto(`${env.base}/web/sessions`);
  const adminRow = admin.locator(`[data-session-id="${id}"]`);
  await adminRow.getByRole("button", { name: "End" }).click();
  await admin.getByRole("dialog").getByRole("button", { name: "End session" }).click();
  await adminRow.waitFor({ state: "detached", timeout: 15_000 });
  await ssh.exited(15_000);
  assert.match(ssh.stderr.text + ssh.stdout.text, /session ended by bob/);
  await eventually(
    async () => assert.match(await page.locator("body").innerText(), /session ended by bob/),
    { timeout: 15_000 },
  );
  await waitForAudit(env.cluster, "session.terminate", (e) => e.session_id === id);
  assert.deepEqual(env.problems(), []);
});
