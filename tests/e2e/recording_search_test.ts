/**
 * Search across recordings (issue #16) in a real Chromium against a real
 * `postern start` and `sshd`: text a session showed, and text a user typed
 * where input is recorded, is found from the recordings page, each match
 * opening the player at its time; a user without "sessions.replay" finds
 * only their own. Screenshots land in `test-output/screenshots/search-*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { eventually } from "../helpers/browser.ts";
import type { TestUser } from "../helpers/cluster.ts";
import { writeSshConfig } from "../helpers/gateway.ts";
import { runSsh } from "../helpers/sshd.ts";
import {
  BROWSER_TEST,
  openTerminal,
  pageFetch,
  startWebEnv,
  terminalText,
  typeInTerminal,
  waitForTerminalState,
  type WebEnv,
} from "../helpers/web_env.ts";

/** Runs `command` in a recorded OpenSSH session through the proxy (`root:saturn@proxy`). */
async function recordCommand(env: WebEnv, user: TestUser, command: string): Promise<void> {
  const identity = await env.cluster.login(user);
  const config = await writeSshConfig(env.cluster, identity, `ssh_config_${user.name}`);
  const port = String(env.cluster.postern.sshPort);
  const result = await runSsh(["-F", config, "-p", port, "root:saturn@127.0.0.1", command]);
  assert.equal(result.code, 0, result.stderr);
}

/** Searches from the recordings page until `count` matches are listed (indexing runs as sessions end). */
async function search(page: Page, text: string, count: number): Promise<void> {
  const form = page.getByRole("search", { name: "Search in recordings" });
  const hits = page.locator(".search-hit");
  await eventually(async () => {
    await form.getByLabel("Find text in recordings").fill(text);
    await form.getByRole("button", { name: "Search" }).click();
    await page.getByRole("status").filter({ hasText: /match|Nothing recorded/ }).waitFor();
    assert.equal(await hits.count(), count, `matches of "${text}"`);
  }, { message: `"${text}" was never found ${count} times`, interval: 500, timeout: 30_000 });
}

/** Generous waits: the machine may be busy. */
const WAIT = { timeout: 30_000 };

Deno.test({
  name:
    "recordings: search finds output and typed input of the recordings a user may replay, and plays each match from its time",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("search", {
    extraConfig: "recording:\n  record_input: true\n",
  });
  const [carol, kim, lee] = await Promise.all([
    env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] }),
    env.cluster.createUser("kim", { logins: ["root"] }),
    env.cluster.createUser("lee"),
  ]);
  await recordCommand(env, lee, "echo needle-$((6*7)) from lee");

  // kim types in the browser terminal: a command whose output says needle-42,
  // and a word read without echo, so it is only in the recorded input.
  const kimPage = await env.signIn(kim);
  await openTerminal(env, kimPage, "root");
  await typeInTerminal(kimPage, "echo needle-$((6*7)) from kim");
  await eventually(async () => assert.match(await terminalText(kimPage), /^needle-42 from kim/m), {
    timeout: 30_000,
  });
  await typeInTerminal(kimPage, "read -s secretword; echo done-reading");
  await eventually(async () => assert.match(await terminalText(kimPage), /read -s/), WAIT);
  await typeInTerminal(kimPage, "hushword");
  await eventually(async () => assert.match(await terminalText(kimPage), /^done-reading/m), WAIT);
  await typeInTerminal(kimPage, "exit");
  await waitForTerminalState(kimPage, "ended");

  const page = await env.signIn(carol);
  await page.goto(`${env.base}/web/recordings`);
  await search(page, "needle 42", 2);
  const kimHit = page.locator(".search-hit", { hasText: "kim" });
  assert.match(await kimHit.locator(".search-match").innerText(), /needle-42 from kim/);
  assert.equal(await kimHit.locator(".search-match mark").first().innerText(), "needle");
  assert.equal(new URL(page.url()).searchParams.get("q"), "needle 42");
  await env.screenshot(page, "results");
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "results-400");
  assert.ok(
    await page.evaluate(() => {
      const { document } = globalThis as unknown as {
        document: { documentElement: { scrollWidth: number; clientWidth: number } };
      };
      return document.documentElement.scrollWidth <= document.documentElement.clientWidth;
    }),
    "the results do not scroll sideways at 400 px",
  );
  await page.setViewportSize({ width: 1280, height: 800 });

  // What was typed but never shown is found in the recorded input only.
  await search(page, "hushword", 1);
  assert.match(await page.locator(".search-hit").innerText(), /typed/);
  await search(page, "nothing-like-this-was-typed", 0);
  // The last word, of 3 letters or more, may be the start of a longer one.
  await search(page, "needle 42 fro", 2);
  await search(page, "needle 42 from kim", 1);

  // The match opens the player at its time, showing the matching output.
  const play = page.locator(".search-hit").getByRole("link", { name: /^Play from \d+:\d\d$/ });
  await play.click();
  await page.waitForURL(/\/web\/recordings\/[^/?]+\?t=[\d.]+$/);
  const player = page.getByTestId("player");
  await eventually(async () => assert.match(await player.innerText(), /needle-42 from kim/), {
    message: "the player never showed the match",
    timeout: 30_000,
  });
  await env.screenshot(page, "player-at-match");

  // Without "sessions.replay", kim finds only kim's sessions, and lee only lee's.
  const { cluster } = JSON.parse((await pageFetch(page, "/v1/webapi/sessions/current")).body);
  const api = `/v1/webapi/sites/${cluster}/recordings/search`;
  const found = async (p: Page) =>
    JSON.parse((await pageFetch(p, `${api}?q=needle+42`)).body).items.map((
      hit: { recording: { user: string } },
    ) => hit.recording.user);
  assert.deepEqual((await found(page)).sort(), ["kim", "lee"]);
  assert.deepEqual(await found(kimPage), ["kim"]);
  assert.deepEqual(await found(await env.signIn(lee)), ["lee"]);
  assert.equal((await pageFetch(page, `${api}?q=`)).status, 400);
  assert.deepEqual(env.problems([{ status: 400, path: /\/recordings\/search$/ }]), []);
});
