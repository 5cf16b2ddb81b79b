/**
 * The web UI end to end, in a real Chromium against a real `postern start`
 * and a real `sshd` node: invite sign-up with TOTP, a browser terminal, a
 * second user observing it live, the recording replayed, the audit log; and
 * the security checks a user cannot see but relies on (generic login errors,
 * lockout, CSRF, WebSocket Origin, hostile labels rendered as text).
 *
 * Screenshots of each page land in `test-output/screenshots/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { totpCode, totpStep } from "../../lib/auth/totp.ts";
import { eventually, launchBrowser } from "../helpers/browser.ts";
import { startCluster, type TestUser } from "../helpers/cluster.ts";

const PASSWORD = "correct horse battery staple";

/** What a terminal shows, one string per row, with xterm's non-breaking spaces undone. */
async function terminalLines(page: Page): Promise<string[]> {
  const text = await page.locator('[data-testid="terminal"] .xterm-rows').innerText();
  return text.replace(/\u00a0/g, " ").split("\n").map((line) => line.trimEnd());
}

/** Waits until the terminal shows `line` as a whole row (command output, not the typed command). */
async function waitForTerminalLine(page: Page, line: string, timeout = 10_000): Promise<void> {
  await eventually(async () => {
    const lines = await terminalLines(page);
    assert.ok(lines.some((l) => l.trim() === line), `no row "${line}" in:\n${lines.join("\n")}`);
  }, { timeout, message: `terminal never showed "${line}"` });
}

async function terminalText(page: Page): Promise<string> {
  return (await terminalLines(page)).join("\n");
}

async function waitForTerminalState(page: Page, state: string, timeout = 15_000): Promise<void> {
  await page.locator(`[data-testid="terminal-status"][data-state="${state}"]`).waitFor({ timeout });
}

async function typeInTerminal(page: Page, text: string): Promise<void> {
  await page.getByTestId("terminal").click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

function navLink(page: Page, name: string): Locator {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

/** Submits the sign-in form and returns the API's answer. */
async function signIn(page: Page, user: string, password: string, code: string) {
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Authenticator code").fill(code);
  const [response] = await Promise.all([
    page.waitForResponse((r) =>
      r.url().endsWith("/v1/webapi/sessions") && r.request().method() === "POST"
    ),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  return { status: response.status(), body: await response.json().catch(() => null) };
}

/** A six-digit code the server cannot accept for `secret` right now. */
function wrongCode(secret: string): string {
  const step = totpStep(Date.now());
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secret, (step + d) * 30_000)));
  for (let n = 0;; n++) {
    const code = String(n).padStart(6, "0");
    if (!valid.has(code)) return code;
  }
}

/** Fetches from inside a page, so the browser's cookie (and only that) is sent. */
function pageFetch(
  page: Page,
  path: string,
  init: { method: string; headers?: Record<string, string> },
): Promise<{ status: number; body: string }> {
  return page.evaluate(async ({ path, init }) => {
    const response = await fetch(path, { ...init, credentials: "same-origin" });
    return { status: response.status, body: await response.text() };
  }, { path, init });
}

/** Sends a raw WebSocket upgrade over TLS and returns the HTTP status the proxy answers. */
async function upgradeStatus(
  port: number,
  caCert: string,
  path: string,
  headers: Record<string, string>,
): Promise<number> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
  try {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    let head = "";
    const buffer = new Uint8Array(4096);
    while (!head.includes("\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      head += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const status = head.match(/^HTTP\/1\.1 (\d{3})/)?.[1];
    assert.ok(status, `no HTTP status line in ${JSON.stringify(head.slice(0, 200))}`);
    return Number(status);
  } finally {
    conn.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Records every WebSocket the page opens, so a test can write to it directly. */
const CAPTURE_SOCKETS = `
  (() => {
    const Native = globalThis.WebSocket;
    globalThis.__sockets = [];
    globalThis.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        globalThis.__sockets.push(this);
      }
    };
  })();
`;

Deno.test({
  name: "web UI: sign-up, terminal, observer, replay, audit and security checks in Chromium",
  // playwright-core keeps pipes and timers of its own until the browser is closed.
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  const started = Date.now();
  await using cluster = await startCluster();
  await using browser = await launchBrowser();
  const base = cluster.postern.url;
  const run = crypto.randomUUID().slice(0, 8);
  const hello = `hello-${run}`;

  const [invite, bob, mallory, carol] = await Promise.all([
    cluster.admin("users", "add", "alice", "--roles", "access", "--logins", "root"),
    cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] }),
    cluster.createUser("mallory", { roles: ["access"], logins: ["mallory"] }),
    cluster.createUser("carol", { roles: ["admin"], logins: ["carol"] }),
  ]);
  assert.equal(invite.code, 0, invite.stderr);
  const inviteUrl = invite.stdout.match(/https:\/\/\S+\/web\/invite\/\S+/)?.[0];
  assert.ok(inviteUrl, `users add printed no invite link:\n${invite.stdout}`);

  const { page: alicePage } = await browser.newPage();
  const alice: TestUser = { name: "alice", password: PASSWORD, totpSecret: "" };
  let sessionId = "";
  let bobPage: Page | undefined;

  // The journey's steps build on each other: after one fails, the rest are skipped.
  let journeyOk = true;
  const journey = async (name: string, fn: () => Promise<void>) => {
    const ok = await t.step({ name, ignore: !journeyOk, fn });
    journeyOk &&= ok;
  };

  await journey(
    "an invite from the CLI signs alice up with TOTP and lands her on Nodes",
    async () => {
      const page = alicePage;
      await page.goto(inviteUrl);
      await page.getByRole("heading", { name: "Create your account" }).waitFor();
      assert.equal(await page.getByTestId("invite-user").innerText(), "alice");
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByLabel("Confirm password").fill(PASSWORD);
      await page.getByRole("button", { name: "Set up authenticator" }).click();
      const qr = page.locator('img[alt="QR code for your authenticator app"]');
      await qr.waitFor();
      assert.ok(
        await qr.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0),
        "the QR code image did not load",
      );
      const shown = (await page.getByTestId("totp-secret").innerText()).trim();
      assert.match(shown, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, "the secret is not base32 in fours");
      alice.totpSecret = shown.replace(/ /g, "");
      await browser.screenshot(page, "invite");
      await page.getByLabel("Authenticator code").fill(await cluster.otp(alice));
      await page.getByRole("button", { name: "Create account" }).click();
      await page.waitForURL(`${base}/web/nodes`);
      assert.equal(await page.getByTestId("current-user").innerText(), "alice");
    },
  );

  await journey(
    "saturn is listed and Connect opens a terminal as root that runs a command",
    async () => {
      const page = alicePage;
      const row = page.getByTestId("nodes-table").locator('[data-node="saturn"]');
      await row.waitFor();
      const rowText = await row.innerText();
      assert.match(rowText, new RegExp(`127\\.0\\.0\\.1:${cluster.sshd.port}`));
      assert.match(rowText, /env=test/);
      const login = row.getByLabel("Login for saturn");
      assert.deepEqual(await login.locator("option").allTextContents(), ["root"]);
      await browser.screenshot(page, "nodes");
      await login.selectOption("root");
      await row.getByRole("link", { name: "Connect" }).click();
      await page.waitForURL(/\/web\/terminal\/new\?/);
      await waitForTerminalState(page, "connected");
      sessionId = (await page.getByTestId("session-id").innerText()).trim();
      assert.ok(sessionId.length > 0, "no session id shown");
      assert.ok((await page.getByTestId("share-link").innerText()).includes(sessionId));
      await typeInTerminal(page, `echo ${hello}`);
      await waitForTerminalLine(page, hello);
      await browser.screenshot(page, "terminal");
    },
  );

  await journey("bob starts on Active sessions and joins the session as an observer", async () => {
    const { page } = await browser.newPage();
    bobPage = page;
    await page.addInitScript(CAPTURE_SOCKETS);
    await page.goto(`${base}/web/login`);
    const login = await signIn(page, "bob", bob.password, await cluster.otp(bob));
    assert.equal(login.status, 200, JSON.stringify(login.body));
    // An auditor has no login on any node: the app starts on Active sessions.
    await page.waitForURL(`${base}/web/sessions`);
    const row = page.getByTestId("sessions-table").locator(`tr[data-session-id="${sessionId}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /alice/);
    await browser.screenshot(page, "sessions");
    await row.getByRole("button", { name: "Join as observer" }).click();
    await page.waitForURL(/\/web\/sessions\/[^/]+\/join\?mode=observer/);
    await waitForTerminalState(page, "connected");
    await page.getByTestId("observer-badge").waitFor();
    assert.equal((await page.getByTestId("session-id").innerText()).trim(), sessionId);
    // Output from before the join (the session's recent scrollback) ...
    await waitForTerminalLine(page, hello);
    // ... and live output after it.
    await typeInTerminal(alicePage, `echo live-${run}`);
    await waitForTerminalLine(page, `live-${run}`);
    await waitForTerminalLine(alicePage, `live-${run}`);
    await eventually(async () => {
      assert.match(await alicePage.getByTestId("parties").innerText(), /bob\s*\(observer\)/);
    }, { message: "alice's party list never showed bob as an observer" });
    await browser.screenshot(page, "observer");
  });

  await journey(
    "the observer cannot type: not from the keyboard, not with raw frames",
    async () => {
      const page = bobPage!;
      const bobFile = `/tmp/postern-e2e-bob-${run}`;
      const aliceFile = `/tmp/postern-e2e-alice-${run}`;
      try {
        await typeInTerminal(page, `touch ${bobFile}; echo bob-typed-${run}`);
        // A modified client would skip the read-only terminal: write to its socket directly.
        const sent = await page.evaluate(`(() => {
        const socket = globalThis.__sockets.at(-1);
        if (!socket || socket.readyState !== 1) return false;
        const command = "touch ${bobFile}; echo bob-raw-${run}\\r";
        socket.send(new TextEncoder().encode(command));
        socket.send(JSON.stringify({ type: "input", data: command }));
        return true;
      })()`);
        assert.equal(sent, true, "bob's page has no open terminal socket");
        await eventually(async () => {
          assert.equal(await page.evaluate("globalThis.__sockets.at(-1).bufferedAmount"), 0);
        }, { message: "bob's frames never left the browser" });
        // Alice's next command is a marker: by the time its output arrives, bob's bytes were handled.
        await typeInTerminal(alicePage, `touch ${aliceFile}; echo after-bob-${run}`);
        await waitForTerminalLine(alicePage, `after-bob-${run}`);
        await waitForTerminalLine(page, `after-bob-${run}`);
        for (const [who, p] of [["alice", alicePage], ["bob", page]] as const) {
          const text = await terminalText(p);
          assert.ok(
            !text.includes("bob-typed"),
            `${who}'s terminal shows bob's keystrokes:\n${text}`,
          );
          assert.ok(!text.includes("bob-raw"), `${who}'s terminal shows bob's raw input:\n${text}`);
        }
        assert.ok(await exists(aliceFile), "alice's command did not run on the node");
        assert.ok(!(await exists(bobFile)), "bob's command ran on the node");
      } finally {
        await Promise.all([bobFile, aliceFile].map((f) => Deno.remove(f).catch(() => {})));
      }
    },
  );

  await journey("alice types exit and both terminals show the session ended", async () => {
    await typeInTerminal(alicePage, "exit");
    await waitForTerminalState(alicePage, "ended");
    await waitForTerminalState(bobPage!, "ended");
    for (const page of [alicePage, bobPage!]) {
      assert.match(await page.getByTestId("terminal-status").innerText(), /Session ended/);
    }
  });

  await journey("the recording is listed, replays the output and downloads as .cast", async () => {
    const page = alicePage;
    await page.getByRole("link", { name: "Back to nodes", exact: true }).click();
    await navLink(page, "Recordings").click();
    const row = page.getByTestId("recordings-table").locator(
      `tr[data-recording-id="${sessionId}"]`,
    );
    // The recording is closed just after the end is announced; Refresh until it has a duration.
    await eventually(async () => {
      if (!(await row.isVisible()) || /in progress/.test(await row.innerText())) {
        await page.getByRole("button", { name: "Refresh" }).click();
        assert.fail(`recording ${sessionId} not listed as finished`);
      }
    }, { message: "the recording was never listed as finished", interval: 300 });
    const rowText = await row.innerText();
    assert.match(rowText, /alice/);
    assert.match(rowText, /saturn/);
    assert.match(rowText, /root/);
    await browser.screenshot(page, "recordings");

    const href = await row.getByRole("link", { name: "Download .cast" }).getAttribute("href");
    assert.ok(href, "no download link");
    const cast = await pageFetch(page, href, { method: "GET" });
    assert.equal(cast.status, 200);
    assert.match(cast.body.split("\n")[0], /"version":\s*2/, "not an asciicast v2 header");
    assert.ok(cast.body.includes(hello), "the .cast lacks the command output");
    assert.ok(!cast.body.includes("bob-raw"), "the .cast contains the observer's input");

    await row.getByRole("button", { name: "Play" }).click();
    await page.waitForURL(`${base}/web/recordings/${sessionId}`);
    const player = page.getByTestId("player");
    await player.waitFor();
    await page.locator('[data-testid="player"] .ap-player').waitFor();
    await player.click();
    await eventually(async () => {
      const text = (await player.innerText()).replace(/\u00a0/g, " ");
      assert.ok(text.split("\n").some((l) => l.trim() === hello), `player shows:\n${text}`);
    }, { timeout: 20_000, message: "the replay never showed the output" });
    await browser.screenshot(page, "player");
  });

  await journey("the audit page lists bob's login and the session's start and end", async () => {
    const page = bobPage!;
    await page.getByRole("link", { name: "Back to sessions", exact: true }).click();
    await navLink(page, "Audit log").click();
    const table = page.getByTestId("audit-table");
    const rows = [
      table.locator('tr[data-code="user.login"]', { hasText: "bob" }),
      table.locator('tr[data-code="session.start"]', { hasText: sessionId }),
      table.locator('tr[data-code="session.end"]', { hasText: sessionId }),
    ];
    await eventually(async () => {
      for (const row of rows) {
        if (!(await row.first().isVisible())) {
          await page.getByRole("button", { name: "Apply filters" }).click();
          assert.fail(`no audit row ${row}`);
        }
      }
    }, { message: "the audit page lacks an expected event", interval: 300 });
    assert.match(await rows[1].first().innerText(), /alice/);
    await browser.screenshot(page, "audit");
  });

  const anon = await browser.newPage();
  await t.step("a wrong password and a wrong code get the same message", async () => {
    const page = anon.page;
    await page.goto(`${base}/web/login`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const badPassword = await signIn(page, "mallory", "not the password", "123456");
    assert.equal(badPassword.status, 401);
    const passwordMessage = await page.getByRole("alert").innerText();
    await browser.screenshot(page, "login");
    const badCode = await signIn(page, "mallory", mallory.password, wrongCode(mallory.totpSecret));
    assert.equal(badCode.status, 401);
    const codeMessage = await page.getByRole("alert").innerText();
    assert.match(passwordMessage, /invalid/i);
    assert.equal(codeMessage, passwordMessage, "the messages tell which part was wrong");
    assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "");
  });

  await t.step(
    "the fifth failure locks the account, with the same answer as any failure",
    async () => {
      const page = anon.page;
      for (let failure = 3; failure <= 4; failure++) {
        assert.equal((await signIn(page, "mallory", `wrong ${failure}`, "123456")).status, 401);
      }
      const locked = await signIn(page, "mallory", "wrong 5", "123456");
      assert.equal(locked.status, 401, JSON.stringify(locked.body));
      const message = await page.getByRole("alert").innerText();
      assert.match(message, /repeated failures lock the account/i);
      // The right password and code do not get in while locked, and nothing tells it apart.
      const right = await signIn(page, "mallory", mallory.password, await cluster.otp(mallory));
      assert.equal(right.status, 401);
      assert.equal(await page.getByRole("alert").innerText(), message);
      assert.equal(page.url(), `${base}/web/login`);
    },
  );

  await t.step("a state-changing request without the CSRF token is refused", async () => {
    const page = alicePage;
    const missing = await pageFetch(page, "/v1/webapi/sessions", { method: "DELETE" });
    assert.equal(missing.status, 403, missing.body);
    assert.equal(JSON.parse(missing.body).error.kind, "access_denied");
    const forged = await pageFetch(page, "/v1/webapi/sessions", {
      method: "DELETE",
      headers: { "X-CSRF-Token": "forged" },
    });
    assert.equal(forged.status, 403, forged.body);
    // Still signed in: the refused logout did nothing.
    const current = await pageFetch(page, "/v1/webapi/sessions/current", { method: "GET" });
    assert.equal(current.status, 200, current.body);
    const { csrf_token: csrf, user } = JSON.parse(current.body);
    assert.equal(user, "alice");
    // With the token the same guard lets a request through to its handler.
    const allowed = await pageFetch(page, "/v1/webapi/sessions/web/no-such-session", {
      method: "DELETE",
      headers: { "X-CSRF-Token": csrf },
    });
    assert.equal(allowed.status, 404, allowed.body);
  });

  await t.step("a WebSocket upgrade from a foreign Origin is refused", async () => {
    const context: BrowserContext = alicePage.context();
    const cookie = (await context.cookies(base)).find((c) => c.name === "__Host-postern_session");
    assert.ok(cookie, "alice's browser has no session cookie");
    const current = JSON.parse(
      (await pageFetch(alicePage, "/v1/webapi/sessions/current", { method: "GET" })).body,
    );
    const caCert = await Deno.readTextFile(join(cluster.postern.dataDir, "tls", "cert.pem"));
    const path = `/v1/webapi/sites/${current.cluster}/connect?csrf=${
      encodeURIComponent(current.csrf_token)
    }`;
    const status = (origin: string) =>
      upgradeStatus(cluster.postern.webPort, caCert, path, {
        Origin: origin,
        Cookie: `${cookie.name}=${cookie.value}`,
      });
    assert.equal(await status("https://evil.example"), 403);
    assert.equal(await status(`http://127.0.0.1:${cluster.postern.webPort}`), 403);
    // The same request from the proxy's own origin is upgraded.
    assert.equal(await status(base), 101);
  });

  await t.step("a hostile node label is shown as text and runs nothing", async () => {
    const payload = "<img src=x onerror=alert(document.domain)>";
    const added = await cluster.admin(
      "nodes",
      "add",
      "xss",
      `127.0.0.1:${cluster.sshd.port}`,
      "--labels",
      `x=${payload}`,
    );
    assert.equal(added.code, 0, added.stderr);
    const page = alicePage;
    await page.goto(`${base}/web/nodes`);
    const row = page.getByTestId("nodes-table").locator('[data-node="xss"]');
    await eventually(async () => {
      if (!(await row.isVisible())) {
        await page.getByRole("button", { name: "Refresh" }).click();
        assert.fail("node xss not listed");
      }
    }, { message: "the node with a hostile label was never listed", interval: 300 });
    assert.ok((await row.innerText()).includes(`x=${payload}`), await row.innerText());
    assert.equal(await row.locator("img").count(), 0, "the label became an <img> element");
    assert.equal(await page.locator('img[src="x"]').count(), 0);
  });

  await t.step("an admin creates an invite on the Users page", async () => {
    const page = anon.page;
    await page.goto(`${base}/web/login`);
    const login = await signIn(page, "carol", carol.password, await cluster.otp(carol));
    assert.equal(login.status, 200, JSON.stringify(login.body));
    await page.waitForURL(`${base}/web/nodes`);
    await navLink(page, "Users").click();
    const table = page.getByTestId("users-table");
    await table.locator('tr[data-user="alice"]').waitFor();
    assert.match(await table.locator('tr[data-user="mallory"]').innerText(), /locked/);
    await page.getByLabel("User name", { exact: true }).fill("dave");
    await page.getByLabel("Logins").fill("dave");
    await page.getByRole("button", { name: "Create invite" }).click();
    const url = (await page.getByTestId("invite-url").innerText()).trim();
    const token = url.match(/\/web\/invite\/([^/?#\s]+)$/)?.[1];
    assert.ok(url.startsWith(base) && token, `not an invite link: ${url}`);
    const check = await cluster.api("GET", `/v1/webapi/invites/${token}`);
    assert.equal(check.status, 200);
    assert.equal(check.body.user, "dave");
    await table.locator('tr[data-user="dave"]').waitFor();
    await browser.screenshot(page, "users");
    // The admin view of nodes renders the hostile label as text too.
    await navLink(page, "Manage nodes").click();
    const xss = page.getByTestId("admin-nodes-table").locator('[data-node="xss"]');
    await xss.waitFor();
    assert.equal(await xss.locator("img").count(), 0);
  });

  await t.step("no page opened a dialog or threw an uncaught error", () => {
    assert.deepEqual(browser.incidents, []);
  });
  console.log(`web journey took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
