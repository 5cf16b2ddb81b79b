/**
 * What a real user hit in the web UI (issue #16), each in a real Chromium
 * against a real `postern start` and `sshd`: one test per defect, each with
 * its own cluster so that any one can run alone
 * (`deno test -A tests/e2e/ui_defects_test.ts --filter "<name>"`).
 *
 * Every test also fails on an uncaught page error, a JavaScript dialog or a
 * console error other than the failed requests it expects. Screenshots land
 * in `test-output/screenshots/defects-*.png`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { eventually } from "../helpers/browser.ts";
import type { TestCluster } from "../helpers/cluster.ts";
import { BROWSER_TEST, pageFetch, startWebEnv, type WebEnv } from "../helpers/web_env.ts";

/** Waits for the terminal's connection state (`connected`, `ended`, ...). */
async function waitForTerminalState(page: Page, state: string, timeout = 20_000): Promise<void> {
  await page.locator(`[data-testid="terminal-status"][data-state="${state}"]`).waitFor({ timeout });
}

/** Opens a web terminal to `login@node`, waits until it is connected and returns the session id. */
async function openTerminal(env: WebEnv, page: Page, login: string, node = "saturn") {
  const query = new URLSearchParams({ node, login });
  await page.goto(`${env.base}/web/terminal/new?${query}`);
  await waitForTerminalState(page, "connected");
  return (await page.getByTestId("session-id").innerText()).trim();
}

async function typeInTerminal(page: Page, text: string): Promise<void> {
  await page.getByTestId("terminal").click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** The audit events of `code` (a prefix) as `postern audit --json` prints them. */
async function auditEvents(cluster: TestCluster, code: string): Promise<Record<string, unknown>[]> {
  const out = await cluster.admin("audit", "--since", "1h", "--type", code, "--json");
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

Deno.test({
  name: "account: a wrong current password is refused on the page and the session stays",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const alice = await env.cluster.createUser("alice");
  const page = await env.signIn(alice);
  await page.goto(`${env.base}/web/account`);
  await page.getByLabel("Current password").fill("not the password at all");
  await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await page.getByLabel("Confirm new password").fill("a brand new passphrase");
  await page.locator("#password-totp").fill(await env.cluster.otp(alice));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/v1/webapi/users/password")),
    page.getByRole("button", { name: "Change password" }).click(),
  ]);
  assert.notEqual(response.status(), 401, "a wrong current password reads as a lost session");
  const alert = page.getByRole("region", { name: "Change password" }).getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.innerText(), /current password .*is not correct/i);
  assert.equal(new URL(page.url()).pathname, "/web/account");
  await env.screenshot(page, "account-wrong-password");
  assert.equal((await pageFetch(page, "/v1/webapi/sessions/current")).status, 200);

  const logins = await auditEvents(env.cluster, "user.login");
  assert.ok(
    !logins.some((e) => e.user === "alice" && e.success === false),
    `the attempt reads as a failed login: ${JSON.stringify(logins)}`,
  );
  const changes = await auditEvents(env.cluster, "user.password.change");
  assert.ok(
    changes.some((e) => e.user === "alice" && e.success === false),
    `the failed change is not audited: ${JSON.stringify(changes)}`,
  );
  assert.deepEqual(
    env.problems([{ status: 403, path: /^\/v1\/webapi\/users\/password$/ }]),
    [],
  );
});

Deno.test({
  name: "users: Reset asks first; a locked user has Unlock (admin only, CSRF-checked, audited)",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const { cluster } = env;
  const [carol, dave, erin] = await Promise.all([
    cluster.createUser("carol", { roles: ["admin"], logins: ["carol"] }),
    cluster.createUser("dave"),
    cluster.createUser("erin"),
    cluster.createUser("frank"),
  ]);
  assert.equal((await cluster.admin("users", "lock", "dave")).code, 0);
  for (let i = 0; i < 5; i++) {
    await cluster.api("POST", "/v1/webapi/sessions", {
      user: "erin",
      password: `wrong ${i}`,
      second_factor_token: "000000",
    });
  }
  const page = await env.signIn(carol);
  await page.goto(`${env.base}/web/users`);
  const table = page.getByTestId("users-table");
  const row = (name: string) => table.locator(`tr[data-user="${name}"]`);

  // Reset: nothing happens until the admin confirms.
  await row("frank").getByRole("button", { name: "Reset" }).click();
  const dialog = page.getByRole("dialog", { name: "Reset the sign-in of frank?" });
  await dialog.waitFor();
  await env.screenshot(page, "users-reset-confirm");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.getByTestId("invite-url").count(), 0);
  assert.deepEqual(await auditEvents(cluster, "user.reset"), []);
  await row("frank").getByRole("button", { name: "Reset" }).click();
  await dialog.getByRole("button", { name: "Reset sign-in" }).click();
  await page.getByTestId("invite-url").waitFor();
  assert.equal((await auditEvents(cluster, "user.reset")).length, 1);

  // Unlock: an administrator's lock and a lockout after failed logins alike.
  assert.equal(await row("carol").getByRole("button", { name: "Unlock" }).count(), 0);
  for (const name of ["dave", "erin"]) {
    assert.match(await row(name).innerText(), /locked/);
    await row(name).getByRole("button", { name: "Unlock" }).click();
    await row(name).getByRole("button", { name: "Unlock" }).waitFor({ state: "detached" });
    assert.match(await row(name).innerText(), /active/);
  }
  await env.screenshot(page, "users-unlocked");
  await cluster.webLogin(dave);
  await cluster.webLogin(erin);
  const unlocks = await auditEvents(cluster, "user.unlock");
  assert.deepEqual(unlocks.map((e) => [e.user, e.name]), [["carol", "dave"], ["carol", "erin"]]);

  // The route itself: CSRF token and the "users" permission are required.
  const noCsrf = await page.evaluate(async () => {
    const response = await fetch("/v1/webapi/users/dave/unlock", { method: "POST" });
    return response.status;
  });
  assert.equal(noCsrf, 403);
  const { cookie, csrf } = await cluster.webLogin(dave);
  const notAdmin = await cluster.api("POST", "/v1/webapi/users/erin/unlock", undefined, {
    cookie,
    "x-csrf-token": csrf,
  });
  assert.equal(notAdmin.status, 403);
  assert.equal(notAdmin.body.error.kind, "access_denied");
  assert.deepEqual(env.problems([{ status: 403, path: /\/unlock$/ }]), []);
});

Deno.test({
  name: "code fields: letters typed into an authenticator code field never show",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const alice = await env.cluster.createUser("alice");
  const { page } = await env.browser.newPage();
  await page.goto(`${env.base}/web/login`);
  const code = page.getByLabel("Authenticator code");
  await code.pressSequentially("xyz");
  assert.equal(await code.inputValue(), "");
  await code.pressSequentially("12ab3-4");
  assert.equal(await code.inputValue(), "1234");
  // The same field on a signed-in page.
  const signedIn = await env.signIn(alice);
  await signedIn.goto(`${env.base}/web/account`);
  const change = signedIn.locator("#password-totp");
  await change.pressSequentially("q1w2e3r4t5y6u7");
  assert.equal(await change.inputValue(), "123456");
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name: "audit: the Outcome filter is kept in the URL like the others",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const bob = await env.cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] });
  await env.cluster.api("POST", "/v1/webapi/sessions", {
    user: "bob",
    password: "wrong",
    second_factor_token: "000000",
  });
  const page = await env.signIn(bob);
  await page.goto(`${env.base}/web/audit?code=user.login&since=1h`);
  const table = page.getByTestId("audit-table");
  await table.locator('tr[data-code="user.login"]').first().waitFor();
  await page.getByLabel("Outcome").selectOption("failure");
  const url = new URL(page.url());
  assert.equal(url.searchParams.get("outcome"), "failure");
  assert.equal(url.searchParams.get("code"), "user.login");
  await page.reload();
  await table.locator('tr[data-code="user.login"]').first().waitFor();
  assert.equal(await page.getByLabel("Outcome").inputValue(), "failure");
  assert.equal(await page.getByLabel("Since").inputValue(), "1h");
  const outcomes = await table.locator("tbody tr").evaluateAll((rows) =>
    rows.map((row) => (row as unknown as { innerText: string }).innerText)
  );
  assert.ok(outcomes.length > 0 && outcomes.every((text) => /\bno\b/.test(text)), `${outcomes}`);
  // Applying other filters keeps it.
  await page.getByRole("button", { name: "Apply filters" }).click();
  assert.equal(new URL(page.url()).searchParams.get("outcome"), "failure");
  await page.getByLabel("Outcome").selectOption("any");
  assert.equal(new URL(page.url()).searchParams.get("outcome"), null);
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name: "sign-in and invite pages: help an end user can act on, no admin commands",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const added = await env.cluster.admin("users", "add", "gina", "--roles", "access");
  const token = added.stdout.match(/\/web\/invite\/(\S+)/)?.[1];
  assert.ok(token, added.stdout);
  const enrolment = await env.cluster.api("POST", `/v1/webapi/invites/${token}/totp`);
  const gina = { name: "gina", password: "correct horse battery staple", totpSecret: "" };
  gina.totpSecret = enrolment.body.secret;
  const used = await env.cluster.api("POST", `/v1/webapi/invites/${token}`, {
    password: gina.password,
    second_factor_token: await env.cluster.otp(gina),
  });
  assert.equal(used.status, 200);

  const { page } = await env.browser.newPage();
  await page.goto(`${env.base}/web/login`);
  const help = await page.getByRole("main").innerText();
  assert.match(help, /invite link/);
  assert.match(help, /Forgot your password/, "nothing says what to do after losing a password");

  await page.goto(`${env.base}/web/invite/${token}`);
  // The page first says it is checking the invite: wait for the verdict.
  await page.getByText(/invalid, used or expired/).waitFor({ timeout: 15_000 });
  const text = await page.getByRole("main").innerText();
  assert.match(text, /invalid, used or expired/);
  assert.doesNotMatch(text, /postern users|<name>/, "an end user is told to run an admin command");
  assert.match(text, /sign in.*new one/s);
  await page.getByRole("link", { name: "sign in" }).click();
  await page.waitForURL(`${env.base}/web/login`);
  await env.screenshot(page, "login-help");
  assert.deepEqual(env.problems([{ status: 404, path: /^\/v1\/webapi\/invites\// }]), []);
});

Deno.test({
  name: "player: a missing recording shows one message, no player and no download",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const alice = await env.cluster.createUser("alice");
  const page = await env.signIn(alice);
  const id = await openTerminal(env, page, "root");
  await typeInTerminal(page, "exit");
  await waitForTerminalState(page, "ended");
  const { cluster } = JSON.parse((await pageFetch(page, "/v1/webapi/sessions/current")).body);
  const recording = `/v1/webapi/sites/${cluster}/recordings/${id}`;
  await eventually(async () => {
    const meta = await pageFetch(page, recording);
    assert.equal(meta.status, 200, meta.body);
    assert.notEqual(JSON.parse(meta.body).ended, null);
  }, { timeout: 20_000, message: "the recording never ended" });
  await Deno.remove(join(env.cluster.postern.dataDir, "recordings", `${id}.cast`));

  const cases = [
    { id: crypto.randomUUID(), message: /Cannot find recording/ },
    { id, message: /file is missing/ },
  ];
  for (const { id, message } of cases) {
    await page.goto(`${env.base}/web/recordings/${id}`);
    const alert = page.getByRole("alert");
    await alert.first().waitFor();
    await eventually(async () => {
      assert.equal(await alert.count(), 1, (await alert.allInnerTexts()).join("\n"));
      assert.match(await alert.innerText(), message);
      assert.equal(await page.getByTestId("player").count(), 0, "a dead player is shown");
    }, { message: `the page of recording ${id} settled wrong` });
    assert.equal(await page.getByRole("link", { name: "Download .cast" }).count(), 0);
  }
  await env.screenshot(page, "player-missing-file");
  assert.deepEqual(env.problems([{ status: 404, path: /\/recordings\/[^/]+(\/stream)?$/ }]), []);
});

Deno.test({
  name: "landing: an auditor without logins starts on Active sessions; Nodes says why it is empty",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const [bob, alice] = await Promise.all([
    env.cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] }),
    env.cluster.createUser("alice"),
  ]);
  const page = await env.signIn(bob);
  assert.equal(new URL(page.url()).pathname, "/web/sessions");
  await page.goto(`${env.base}/web`);
  await page.waitForURL(`${env.base}/web/sessions`);
  await page.goto(`${env.base}/web/nodes`);
  // The same row says "Loading nodes…" first.
  const empty = page.getByTestId("nodes-table").locator(".empty-row", { hasText: "no login" });
  await empty.waitFor();
  const text = await empty.innerText();
  assert.doesNotMatch(text, /Ask an administrator to add one/, "nodes exist; the message says not");
  await env.screenshot(page, "auditor-nodes");
  await empty.getByRole("link", { name: "replay recordings" }).click();
  await page.waitForURL(`${env.base}/web/recordings`);
  // A user with logins still starts on Nodes.
  const alicePage = await env.signIn(alice);
  assert.equal(new URL(alicePage.url()).pathname, "/web/nodes");
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name:
    "joining: an auditor is offered only Join as observer; a refused peer join offers Watch instead",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const [alice, bob, carol] = await Promise.all([
    env.cluster.createUser("alice"),
    env.cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] }),
    env.cluster.createUser("carol", { roles: ["admin"], logins: ["carol"] }),
  ]);
  const alicePage = await env.signIn(alice);
  const id = await openTerminal(env, alicePage, "root");

  const offered = async (page: Page) => {
    await page.goto(`${env.base}/web/sessions`);
    const row = page.getByTestId("sessions-table").locator(`tr[data-session-id="${id}"]`);
    await row.waitFor();
    return (await row.getByRole("button", { name: /^Join as/ }).allInnerTexts()).map((t) =>
      t.trim()
    );
  };
  const bobPage = await env.signIn(bob);
  assert.deepEqual(await offered(bobPage), ["Join as observer"]);
  await env.screenshot(bobPage, "auditor-sessions");
  const carolPage = await env.signIn(carol);
  assert.deepEqual(await offered(carolPage), ["Join as observer", "Join as peer"]);

  // An old link asks for peer anyway: the refusal offers watching, not the same refusal again.
  await bobPage.goto(`${env.base}/web/sessions/${id}/join?mode=peer`);
  await waitForTerminalState(bobPage, "error");
  assert.match(await bobPage.getByTestId("terminal-status").innerText(), /only observe/);
  assert.equal(await bobPage.getByRole("button", { name: "Join again" }).count(), 0);
  await env.screenshot(bobPage, "peer-refused");
  await bobPage.getByRole("link", { name: "Watch instead" }).click();
  await bobPage.waitForURL(/\/join\?mode=observer$/);
  await waitForTerminalState(bobPage, "connected");
  await bobPage.getByTestId("observer-badge").waitFor();
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name:
    "connect: Connect is a link per node and login (Ctrl+click opens a new tab); the terminal tells how to copy and paste",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const alice = await env.cluster.createUser("alice", { logins: ["root", "nobody"] });
  const page = await env.signIn(alice);
  const row = page.getByTestId("nodes-table").locator('[data-node="saturn"]');
  await row.waitFor();
  const connect = row.getByRole("link", { name: "Connect" });
  await row.getByLabel("Login for saturn").selectOption("nobody");
  assert.equal(await connect.getAttribute("href"), "/web/terminal/new?node=saturn&login=nobody");
  await row.getByLabel("Login for saturn").selectOption("root");
  assert.equal(await connect.getAttribute("href"), "/web/terminal/new?node=saturn&login=root");
  const [tab] = await Promise.all([
    page.context().waitForEvent("page"),
    connect.click({ modifiers: ["Control"] }),
  ]);
  await waitForTerminalState(tab, "connected");
  assert.equal(new URL(page.url()).pathname, "/web/nodes", "Ctrl+click left the nodes page");
  const hint = await tab.getByTestId("shortcut-hint").innerText();
  assert.match(hint, /Ctrl\+Shift\+C/);
  assert.match(hint, /Ctrl\+Shift\+V/);
  await env.screenshot(tab, "terminal-hint");
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name:
    "terminal end: the reason (exit code, node lost, access revoked, proxy shutdown) and a link to the recording",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const { cluster } = env;
  const [alice, dave, erin, frank, bob] = await Promise.all([
    cluster.createUser("alice"),
    cluster.createUser("dave"),
    cluster.createUser("erin"),
    cluster.createUser("frank"),
    cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] }),
  ]);
  const status = (page: Page) => page.getByTestId("terminal-status").innerText();
  const endedWith = async (page: Page, reason: RegExp, id: string) => {
    await waitForTerminalState(page, "ended");
    assert.match(await status(page), reason);
    const link = page.getByRole("link", { name: "Replay the recording" });
    assert.equal(await link.getAttribute("href"), `/web/recordings/${id}`);
    assert.equal(await page.getByTestId("share-link").count(), 0, "the share link stays");
    assert.equal(await page.getByTestId("parties").count(), 0, "the party chips stay");
  };

  const alicePage = await env.signIn(alice);
  const aliceId = await openTerminal(env, alicePage, "root");
  await typeInTerminal(alicePage, "exit 3");
  await endedWith(alicePage, /exit code 3/, aliceId);
  await env.screenshot(alicePage, "terminal-exit-code");

  // The node's sshd process of this connection dies: no exit status ever comes.
  const davePage = await env.signIn(dave);
  const daveId = await openTerminal(env, davePage, "root");
  await typeInTerminal(davePage, "kill -9 $PPID");
  await endedWith(davePage, /connection to the node was lost/, daveId);
  await env.screenshot(davePage, "terminal-node-lost");

  const erinPage = await env.signIn(erin);
  const erinId = await openTerminal(env, erinPage, "root");
  assert.equal((await cluster.admin("users", "lock", "erin")).code, 0);
  await endedWith(erinPage, /access revoked by an administrator/, erinId);

  // An observer learns the reason too.
  const frankPage = await env.signIn(frank);
  const frankId = await openTerminal(env, frankPage, "root");
  const bobPage = await env.signIn(bob);
  await bobPage.goto(`${env.base}/web/sessions/${frankId}/join?mode=observer`);
  await waitForTerminalState(bobPage, "connected");
  await cluster.postern.stop();
  await endedWith(frankPage, /postern is shutting down/, frankId);
  await endedWith(bobPage, /postern is shutting down/, frankId);
  await env.screenshot(frankPage, "terminal-shutdown");
  assert.equal(await frankPage.getByRole("button", { name: "Start a new session" }).count(), 1);
  assert.equal(await bobPage.getByRole("button", { name: "Join again" }).count(), 0);
  assert.deepEqual(env.problems(), []);
});

/** Elements wider than the window (the ones that make a page scroll sideways), for the message. */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .slice(0, 8)
      .map((el) => el.tagName.toLowerCase() + "." + el.className + " right=" +
        Math.round(el.getBoundingClientRect().right));
  })()`);
}

/** How wide the page's content is: above the window's width, it scrolls sideways. */
function scrollWidth(page: Page): Promise<number> {
  return page.evaluate("document.documentElement.scrollWidth");
}

Deno.test({
  name: "narrow window: at 400 px no page scrolls sideways and the player fills its box",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const carol = await env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] });
  const page = await env.signIn(carol);
  // Recorded in a wide window, replayed in a narrow one.
  const id = await openTerminal(env, page, "root");
  await typeInTerminal(page, "echo wide; exit");
  await waitForTerminalState(page, "ended");
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "narrow-terminal");
  const pages = [
    ["nodes", "/web/nodes", "nodes-table"],
    ["sessions", "/web/sessions", "sessions-table"],
    ["recordings", "/web/recordings", "recordings-table"],
    ["audit", "/web/audit", "audit-table"],
    ["users", "/web/users", "users-table"],
    ["admin-nodes", "/web/admin/nodes", "admin-nodes-table"],
    ["account", "/web/account", "web-sessions-table"],
  ];
  for (const [name, path, table] of pages) {
    await page.goto(`${env.base}${path}`);
    await page.getByTestId(table).locator("tbody tr").filter({ hasNotText: /^Loading/ }).first()
      .waitFor();
    const width = await scrollWidth(page);
    assert.ok(
      width <= 400,
      `${path} is ${width} px wide:\n${(await overflowing(page)).join("\n")}`,
    );
    await env.screenshot(page, `narrow-${name}`);
  }
  await page.goto(`${env.base}/web/recordings/${id}`);
  const player = page.getByTestId("player");
  await page.locator('[data-testid="player"] .ap-player').waitFor();
  await eventually(async () => {
    const box = await player.boundingBox();
    const terminal = await page.locator('[data-testid="player"] .ap-term').boundingBox();
    assert.ok(box && terminal, "no player");
    assert.ok(
      terminal.height >= box.height * 0.6,
      `the recording fills ${terminal.height} of the player's ${box.height} px`,
    );
  }, { message: "the player leaves an empty area" });
  await env.screenshot(page, "narrow-player");
  assert.ok(await scrollWidth(page) <= 400);
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name:
    "terminal and sessions: End session ends it on the node; the full id is copyable, the start time on hover",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const [alice, carol] = await Promise.all([
    env.cluster.createUser("alice"),
    env.cluster.createUser("carol", { roles: ["admin"], logins: ["carol"] }),
  ]);
  const alicePage = await env.signIn(alice);
  const id = await openTerminal(env, alicePage, "root");

  const carolPage = await env.signIn(carol);
  await carolPage.context().grantPermissions(["clipboard-read", "clipboard-write"], {
    origin: env.base,
  });
  await carolPage.goto(`${env.base}/web/sessions`);
  const row = carolPage.getByTestId("sessions-table").locator(`tr[data-session-id="${id}"]`);
  await row.waitFor();
  const started = row.locator("time");
  assert.match(await started.getAttribute("title") ?? "", /\d{4}/, "no absolute start time");
  const copy = row.getByRole("button", { name: `Copy session id ${id}` });
  await copy.click();
  await eventually(async () => assert.equal((await copy.innerText()).trim(), "Copied"));
  assert.equal(await carolPage.evaluate("navigator.clipboard.readText()"), id);

  await alicePage.getByRole("button", { name: "End session" }).click();
  await waitForTerminalState(alicePage, "ended");
  assert.match(await alicePage.getByTestId("terminal-status").innerText(), /you ended it/);
  await eventually(async () => {
    const ends = await auditEvents(env.cluster, "session.end");
    assert.ok(ends.some((e) => e.session_id === id), "the session did not end on the node");
  }, { timeout: 20_000 });
  await carolPage.getByRole("button", { name: "Refresh" }).click();
  await row.waitFor({ state: "detached" });
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name: "authenticator setup: the secret reads in groups of four and copies without spaces",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv("defects");
  const added = await env.cluster.admin("users", "add", "gina", "--roles", "access");
  const url = added.stdout.match(/https:\/\/\S+\/web\/invite\/\S+/)?.[0];
  assert.ok(url, added.stdout);
  const { page, context } = await env.browser.newPage();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.base });
  await page.goto(url);
  await page.getByRole("button", { name: "Set up authenticator" }).click();
  const secret = page.getByTestId("totp-secret");
  await secret.waitFor();
  const shown = (await secret.innerText()).trim();
  assert.match(shown, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, shown);
  await page.getByRole("button", { name: "Copy secret" }).click();
  assert.equal(await page.evaluate("navigator.clipboard.readText()"), shown.replace(/ /g, ""));
  await env.screenshot(page, "totp-groups");
  assert.deepEqual(env.problems(), []);
});
