/**
 * The features users asked for in issue #16, each in a real Chromium against
 * a real `postern start` and `sshd`, each with its own cluster so that any
 * one can run alone (`deno test -A tests/e2e/ui_features_test.ts --filter "<name>"`).
 *
 * Every test also fails on an uncaught page error, a JavaScript dialog or a
 * console error other than the failed requests it expects. Screenshots land
 * in `test-output/screenshots/features-*.png`.
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
  type WebEnv,
} from "../helpers/web_env.ts";

const PREFIX = "features";

/** What page.evaluate callbacks see: the page's DOM, untyped here (Deno's types are not the DOM's). */
// deno-lint-ignore no-explicit-any
type InPage = any;

/** The viewport centre of the first place `text` is shown in the terminal's rows. */
function textPosition(page: Page, text: string): Promise<{ x: number; y: number } | null> {
  return page.evaluate((text) => {
    const { document, NodeFilter } = globalThis as InPage;
    const rows = document.querySelector('[data-testid="terminal"] .xterm-rows');
    const walker = document.createTreeWalker(rows!, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.textContent!.indexOf(text);
      if (at < 0) continue;
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + text.length);
      const rect = range.getBoundingClientRect();
      return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
    }
    return null;
  }, text);
}

Deno.test({
  name: "terminal: Ctrl+Shift+F searches the scrollback, Next and Previous move, Esc closes",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const alice = await env.cluster.createUser("alice");
  const page = await env.signIn(alice);
  await openTerminal(env, page, "root");
  // Three lines say "hit10…"; the command line itself does not.
  await typeInTerminal(page, "seq 101 103 | sed s/^/hit/");
  await eventually(async () => assert.match(await terminalText(page), /hit103/));

  const search = page.getByRole("search", { name: "Search the terminal" });
  assert.equal(await search.count(), 0);
  await page.keyboard.press("Control+Shift+F");
  const box = search.getByRole("searchbox", { name: "Search the terminal output" });
  await box.waitFor();
  assert.equal(
    await box.evaluate((el) => el === (globalThis as InPage).document.activeElement),
    true,
  );
  await box.fill("hit10");
  const results = search.getByTestId("search-results");
  await eventually(async () => assert.match(await results.innerText(), /^\d of 3$/));
  const first = await results.innerText();
  await search.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.notEqual(await results.innerText(), first));
  const second = await results.innerText();
  await search.getByRole("button", { name: "Previous" }).click();
  await eventually(async () => assert.equal(await results.innerText(), first));
  await box.press("Enter");
  await eventually(async () => assert.equal(await results.innerText(), second));
  await env.screenshot(page, "terminal-search");

  await box.fill("no such text anywhere");
  await eventually(async () => assert.equal(await results.innerText(), "No matches"));

  // Esc closes the box and the keyboard goes back to the shell.
  await box.press("Escape");
  await search.waitFor({ state: "detached" });
  assert.equal(
    await page.evaluate(() =>
      (globalThis as InPage).document.activeElement?.classList.contains("xterm-helper-textarea")
    ),
    true,
    "the terminal does not have the keyboard after Esc",
  );
  await page.keyboard.type("echo back-in-the-$((40+2))-shell");
  await page.keyboard.press("Enter");
  await eventually(async () => assert.match(await terminalText(page), /back-in-the-42-shell/));

  // The toolbar button opens it too, at 400 px as well.
  await page.setViewportSize({ width: 400, height: 800 });
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await box.waitFor();
  await env.screenshot(page, "terminal-search-400");
  assert.deepEqual(env.problems(), []);
});

Deno.test({
  name: "terminal: a URL printed in the terminal opens in a new tab with no opener",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const alice = await env.cluster.createUser("alice");
  const page = await env.signIn(alice);
  await openTerminal(env, page, "root");
  const url = `${env.base}/healthz`;
  await typeInTerminal(page, "clear");
  // printf builds the URL, so only its output is a whole link.
  await typeInTerminal(page, `printf '%s\\n' '${env.base}''/healthz?from=terminal'`);
  const link = `${url}?from=terminal`;
  const position = await eventually(async () => {
    const lines = (await terminalText(page)).split("\n").map((line) => line.trim());
    assert.ok(lines.includes(link), lines.join("\n"));
    const found = await textPosition(page, `${url}?`);
    assert.ok(found);
    return found;
  });
  await page.mouse.move(position.x, position.y);
  await page.getByTestId("terminal").locator(".xterm-cursor-pointer").waitFor();
  const [opened] = await Promise.all([
    page.context().waitForEvent("page"),
    page.mouse.click(position.x, position.y),
  ]);
  await opened.waitForLoadState();
  assert.equal(opened.url(), link);
  assert.equal(await opened.evaluate(() => (globalThis as InPage).opener), null);
  assert.equal(new URL(page.url()).pathname, "/web/terminal/new", "the terminal page was left");
  assert.deepEqual(env.problems(), []);
});

/** The relative luminance (0 black … 1 white) of a computed `rgb(…)` colour. */
function luminance(color: string): number {
  const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The computed colours of the page body, the first table (or card) and its text. */
function pageColours(page: Page): Promise<{ body: string; text: string; surface: string | null }> {
  return page.evaluate(() => {
    const { document, getComputedStyle } = globalThis as InPage;
    const surface = document.querySelector(".table-wrap, .card, .auth-card");
    return {
      body: getComputedStyle(document.body).backgroundColor,
      text: getComputedStyle(document.body).color,
      surface: surface ? getComputedStyle(surface).backgroundColor : null,
    };
  });
}

/**
 * Controls a person cannot name without seeing an icon: buttons, links and
 * other focusable controls whose accessible name is empty or only emoji, and
 * any emoji shown as text.
 */
function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const { document } = globalThis as InPage;
    const emojiOnly = /^[\p{Extended_Pictographic}\p{Emoji_Presentation}\uFE0F\u200D\s]*$/u;
    const problems: string[] = [];
    const controls = document.querySelectorAll(
      'button, a[href], [role="button"], [role="link"], [role="tab"], [tabindex]:not([tabindex="-1"]), summary',
    );
    for (const control of controls) {
      if (control.closest("[aria-hidden=true]") || !control.getClientRects().length) continue;
      const labelledBy = (control.getAttribute("aria-labelledby") ?? "").split(/\s+/)
        .map((id: string) => document.getElementById(id)?.textContent ?? "").join(" ");
      const name = [control.getAttribute("aria-label"), labelledBy, control.textContent]
        .map((text) => (text ?? "").trim()).find((text) => text) ?? "";
      if (emojiOnly.test(name)) {
        problems.push(`${control.outerHTML.slice(0, 160)} is named "${name}"`);
      }
    }
    const walker = document.createTreeWalker(document.body, 4 /* NodeFilter.SHOW_TEXT */);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (
        /\p{Extended_Pictographic}/u.test(node.textContent) &&
        !node.parentElement.closest(".xterm, .ap-term")
      ) {
        problems.push(`emoji in text: "${node.textContent.trim().slice(0, 80)}"`);
      }
    }
    return problems;
  });
}

/** Waits until a page has nothing left saying it is loading. */
async function settled(page: Page): Promise<void> {
  await page.locator("main").first().waitFor();
  await eventually(async () => {
    assert.equal(await page.locator('[aria-busy="true"]').count(), 0);
    assert.equal(await page.locator(".empty-row", { hasText: /^Loading/ }).count(), 0);
  });
}

Deno.test({
  name: "look: every page follows a dark prefers-color-scheme and names its controls in words",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const carol = await env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] });

  const signedOut = await env.newPage({ colorScheme: "dark" });
  await signedOut.goto(`${env.base}/web/login`);
  await settled(signedOut);
  const login = await pageColours(signedOut);
  assert.ok(luminance(login.body) < 0.05, `sign-in page background ${login.body}`);
  assert.ok(luminance(login.surface!) < 0.05, `sign-in card ${login.surface}`);
  assert.deepEqual(await unnamedControls(signedOut), []);
  await env.screenshot(signedOut, "dark-login");

  const page = await env.signIn(carol, { colorScheme: "dark" });
  const id = await openTerminal(env, page, "root");
  await typeInTerminal(page, "echo dark; exit");
  await page.locator('[data-testid="terminal-status"][data-state="ended"]').waitFor();
  assert.deepEqual(await unnamedControls(page), []);
  await env.screenshot(page, "dark-terminal");

  const paths = [
    "/web/nodes",
    "/web/sessions",
    "/web/recordings",
    `/web/recordings/${id}`,
    "/web/audit",
    "/web/users",
    "/web/admin/nodes",
    "/web/account",
  ];
  for (const path of paths) {
    await page.goto(`${env.base}${path}`);
    await settled(page);
    const colours = await pageColours(page);
    assert.ok(luminance(colours.body) < 0.05, `${path}: background ${colours.body}`);
    assert.ok(luminance(colours.text) > 0.6, `${path}: text ${colours.text}`);
    if (colours.surface) {
      assert.ok(luminance(colours.surface) < 0.05, `${path}: surface ${colours.surface}`);
    }
    assert.deepEqual(await unnamedControls(page), [], path);
  }
  await page.goto(`${env.base}/web/users`);
  await settled(page);
  await env.screenshot(page, "dark-users");
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "dark-users-400");

  // The same pages stay light for a light preference.
  const light = await env.signIn(carol, { colorScheme: "light" });
  await light.goto(`${env.base}/web/users`);
  await settled(light);
  const colours = await pageColours(light);
  assert.ok(luminance(colours.body) > 0.8, `light background ${colours.body}`);
  assert.deepEqual(env.problems(), []);
});

/** The audit events of `code` (a prefix) as `postern audit --json` prints them. */
async function auditEvents(env: WebEnv, code: string): Promise<Record<string, unknown>[]> {
  const out = await env.cluster.admin("audit", "--since", "1h", "--type", code, "--json");
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

Deno.test({
  name:
    "users: an admin edits a user's roles and logins (losing a login ends their terminals), sees the last sign-in and ends a web session",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const [carol, dave] = await Promise.all([
    env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] }),
    env.cluster.createUser("dave", { roles: ["access"], logins: ["root"] }),
  ]);
  const daveA = await env.signIn(dave);
  await openTerminal(env, daveA, "root");
  const daveB = await env.signIn(dave);
  await openTerminal(env, daveB, "root");
  const sessionsOfB = JSON.parse((await pageFetch(daveB, "/v1/webapi/sessions/web")).body);
  const handleB = sessionsOfB.items.find((s: { current: boolean }) => s.current).id;

  const page = await env.signIn(carol);
  await page.goto(`${env.base}/web/users`);
  await page.getByTestId("users-table").locator('tr[data-user="dave"]')
    .getByRole("link", { name: "Edit" }).click();
  await page.waitForURL(`${env.base}/web/users/dave`);
  const lastLogin = page.getByTestId("last-login");
  await lastLogin.waitFor();
  assert.match(await lastLogin.innerText(), /ago|just now/);
  assert.match(await lastLogin.innerText(), /from 127\.0\.0\.1/);
  const sessions = page.getByTestId("user-web-sessions-table");
  // Two browsers, and the session the sign-up itself opened.
  assert.equal(await sessions.locator("tr[data-web-session]").count(), 3);
  await env.screenshot(page, "user-page");

  // Adding a login ends nothing.
  const access = page.getByRole("region", { name: "Roles and logins" });
  await access.getByLabel("Logins").fill("root, ubuntu");
  await access.getByRole("button", { name: "Save changes" }).click();
  await access.getByRole("status").filter({ hasText: "Saved" }).waitFor();

  // Ending one web session signs that browser out and ends its terminal only.
  await sessions.locator(`tr[data-web-session="${handleB}"]`).getByRole("button", { name: "End" })
    .click();
  await sessions.locator(`tr[data-web-session="${handleB}"]`).waitFor({ state: "detached" });
  const statusB = daveB.getByTestId("terminal-status");
  await eventually(
    async () => assert.match(await statusB.innerText(), /signed out by an administrator/),
    { timeout: 20_000 },
  );
  // Revocations are followed in order: had adding a login revoked, A would have ended by now.
  assert.equal(await daveA.getByTestId("terminal-status").getAttribute("data-state"), "connected");
  assert.equal((await pageFetch(daveB, "/v1/webapi/sessions/current")).status, 401);

  // A login that is not a Unix name is refused on the page.
  await access.getByLabel("Logins").fill("Not A Login");
  await access.getByRole("button", { name: "Save changes" }).click();
  await access.getByRole("alert").filter({ hasText: "not a valid Unix user name" }).waitFor();

  // Losing "root" ends A's terminal on root.
  await access.getByLabel("Logins").fill("ubuntu");
  await access.getByRole("button", { name: "Save changes" }).click();
  await access.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  const statusA = daveA.getByTestId("terminal-status");
  await eventually(
    async () => assert.match(await statusA.innerText(), /access changed by an administrator/),
    { timeout: 20_000 },
  );
  assert.equal((await pageFetch(daveA, "/v1/webapi/sessions/current")).status, 200);
  await page.getByRole("link", { name: "All users" }).click();
  const row = page.getByTestId("users-table").locator('tr[data-user="dave"]');
  await eventually(async () => assert.match(await row.innerText(), /ubuntu/));
  assert.doesNotMatch(await row.innerText(), /root/);
  await env.screenshot(page, "users-edited");
  await page.goto(`${env.base}/web/users/dave`);
  await page.setViewportSize({ width: 400, height: 800 });
  await sessions.waitFor();
  await env.screenshot(page, "user-page-400");

  const updates = await auditEvents(env, "user.update");
  assert.deepEqual(updates.map((e) => [e.user, e.name, e.logins]), [
    ["carol", "dave", ["root", "ubuntu"]],
    ["carol", "dave", ["ubuntu"]],
  ]);
  const ended = await auditEvents(env, "user.web_session.end");
  assert.deepEqual(ended.map((e) => [e.user, e.name, e.session]), [["carol", "dave", handleB]]);

  // The routes need the "users" permission and a CSRF token.
  const asDave = await pageFetch(daveA, "/v1/webapi/users/carol");
  assert.equal(asDave.status, 403);
  const noCsrf = await page.evaluate(async () => {
    const response = await fetch("/v1/webapi/users/dave", { method: "PUT", body: "{}" });
    return response.status;
  });
  assert.equal(noCsrf, 403);
  const nothing = await pageFetch(page, "/v1/webapi/users/dave", {
    method: "PUT",
    csrf: true,
    body: {},
  });
  assert.equal(nothing.status, 400);
  assert.match(JSON.parse(nothing.body).error.message, /give roles or logins/);
  assert.deepEqual(
    env.problems([
      { status: 400, path: /^\/v1\/webapi\/users\/dave$/ },
      { status: 403, path: /^\/v1\/webapi\/users\/(dave|carol)$/ },
      { status: 401, path: /^\/v1\/webapi\// },
    ]),
    [],
  );
});

/** A local date as a date input takes it (YYYY-MM-DD), `days` after today. */
function localDate(days = 0): string {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Runs `count` proxy-terminated OpenSSH sessions (`root:saturn@proxy true`) as `user`, each recorded. */
async function recordSessions(env: WebEnv, user: TestUser, count: number): Promise<void> {
  const identity = await env.cluster.login(user);
  const config = await writeSshConfig(env.cluster, identity, `ssh_config_${user.name}`);
  const port = String(env.cluster.postern.sshPort);
  for (let i = 0; i < count; i++) {
    const result = await runSsh(["-F", config, "-p", port, "root:saturn@127.0.0.1", "true"]);
    assert.equal(result.code, 0, result.stderr);
  }
}

Deno.test({
  name:
    "recordings: filters by user, node, login and dates, a page at a time, all kept in the URL; audit session events link to them",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const [carol, kim, lee] = await Promise.all([
    env.cluster.createUser("carol", { roles: ["admin"], logins: ["root"] }),
    env.cluster.createUser("kim"),
    env.cluster.createUser("lee"),
  ]);
  await Promise.all([recordSessions(env, kim, 11), recordSessions(env, lee, 2)]);

  const page = await env.signIn(carol);
  await page.goto(`${env.base}/web/recordings?user=kim&per_page=10`);
  const table = page.getByTestId("recordings-table");
  const rows = table.locator("tr[data-recording-id]");
  const pager = page.getByRole("navigation", { name: "Recordings pages" });
  const users = () => table.locator('td[data-label="User"]').allInnerTexts();
  await eventually(async () => assert.equal(await rows.count(), 10));
  assert.deepEqual(new Set(await users()), new Set(["kim"]));
  assert.equal(await page.getByLabel("User").inputValue(), "kim");
  await pager.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.equal(await rows.count(), 1));
  assert.equal(await pager.getByTestId("page-number").innerText(), "Page 2");
  assert.equal(await pager.getByRole("button", { name: "Next" }).isDisabled(), true);
  const url = new URL(page.url());
  assert.deepEqual(
    [url.searchParams.get("user"), url.searchParams.get("page"), url.searchParams.get("per_page")],
    ["kim", "2", "10"],
  );
  await page.reload();
  await eventually(async () => assert.equal(await rows.count(), 1));
  assert.equal(await pager.getByTestId("page-number").innerText(), "Page 2");
  await env.screenshot(page, "recordings-page-2");
  await pager.getByRole("button", { name: "Previous" }).click();
  await eventually(async () => assert.equal(await rows.count(), 10));

  const filters = page.getByRole("search", { name: "Recording filters" });
  const apply = async (values: Record<string, string>) => {
    for (const [label, value] of Object.entries(values)) {
      await filters.getByLabel(label, { exact: true }).fill(value);
    }
    await filters.getByRole("button", { name: "Apply filters" }).click();
  };
  const empty = table.locator(".empty-row", { hasText: "No recordings match the filters." });
  await apply({ User: "", Node: "mars" });
  await empty.waitFor();
  assert.equal(new URL(page.url()).searchParams.get("node"), "mars");
  await apply({ Node: "saturn", Login: "ubuntu" });
  await empty.waitFor();
  await apply({ Login: "root", "Started until": localDate(-1) });
  await empty.waitFor();
  await apply({ "Started from": localDate(), "Started until": localDate() });
  await eventually(async () => assert.equal(await rows.count(), 10));
  await pager.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.equal(await rows.count(), 3));
  assert.deepEqual(new Set(await users()), new Set(["kim", "lee"]));
  const kept = new URL(page.url()).searchParams;
  assert.deepEqual(
    ["node", "login", "from", "to", "page"].map((name) => kept.get(name)),
    ["saturn", "root", localDate(), localDate(), "2"],
  );
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "recordings-filters-400");
  await page.setViewportSize({ width: 1280, height: 800 });
  await filters.getByRole("button", { name: "Clear" }).click();
  await eventually(() => assert.equal(new URL(page.url()).search, "?per_page=10"));

  // The API itself: pages with next_offset, a bad time is a bad request.
  const { cluster } = JSON.parse((await pageFetch(page, "/v1/webapi/sessions/current")).body);
  const api = `/v1/webapi/sites/${cluster}/recordings`;
  const last = JSON.parse((await pageFetch(page, `${api}?user=kim&limit=5&offset=10`)).body);
  assert.equal(last.items.length, 1);
  assert.equal(last.next_offset, null);
  const first = JSON.parse((await pageFetch(page, `${api}?user=kim&limit=5`)).body);
  assert.equal(first.next_offset, 5);
  assert.equal((await pageFetch(page, `${api}?since=yesterday-ish`)).status, 400);

  // Without "sessions.replay" a user finds only their own, whatever they ask for.
  const kimPage = await env.signIn(kim);
  const others = JSON.parse((await pageFetch(kimPage, `${api}?user=lee`)).body);
  assert.deepEqual(others.items, []);
  const own = JSON.parse((await pageFetch(kimPage, `${api}?limit=100`)).body);
  assert.equal(own.items.length, 11);
  assert.ok(own.items.every((r: { user: string }) => r.user === "kim"));

  // An audit event of a session links to its recording.
  await page.goto(`${env.base}/web/audit?code=session.start&since=1h`);
  const event = page.getByTestId("audit-table").locator('tr[data-code="session.start"]').first();
  await event.getByRole("link", { name: "Replay the recording" }).click();
  await page.waitForURL(/\/web\/recordings\/[^/]+$/);
  // The player loads the recording first: generous under load. If the page
  // shows an error instead, fail with it (and the failed requests) at once.
  const alert = page.getByRole("alert");
  const shown = await Promise.race([
    page.getByTestId("player").waitFor({ timeout: 30_000 }).then(() => "player"),
    alert.waitFor({ timeout: 30_000 }).then(() => "alert", () => "nothing"),
  ]);
  if (shown === "alert") {
    const requests = JSON.stringify(env.problems([]));
    throw new Error(`the recording page shows "${await alert.innerText()}"; requests: ${requests}`);
  }
  // These sessions printed nothing: the player still plays them (no error after loading).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(await alert.count(), 0, "a session without output replays without an error");
  assert.deepEqual(env.problems([{ status: 400, path: /\/recordings$/ }]), []);
});

/** A local time as a datetime-local input takes it (YYYY-MM-DDTHH:MM), `minutes` from now. */
function localDateTime(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Parses CSV (RFC 4180: quoted cells, doubled quotes, CRLF) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') cell += text[++i];
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  return rows;
}

Deno.test({
  name:
    "audit: pages, a custom date range and the outcome in the URL; exports every matching event as JSON and CSV",
  ...BROWSER_TEST,
}, async () => {
  await using env = await startWebEnv(PREFIX);
  const bob = await env.cluster.createUser("bob", { roles: ["auditor"], logins: ["bob"] });
  // 12 failed sign-ins of a user that does not exist, one with a formula for a name.
  for (let i = 0; i < 12; i++) {
    await env.cluster.api("POST", "/v1/webapi/sessions", {
      user: i === 0 ? '=HYPERLINK("https://example.com/calc","x")' : `ghost${i}`,
      password: "wrong",
      second_factor_token: "000000",
    });
  }
  const page = await env.signIn(bob);
  await page.goto(`${env.base}/web/audit?code=user.login&since=1h&outcome=failure&per_page=10`);
  const table = page.getByTestId("audit-table");
  const rows = table.locator("tbody tr[data-code]");
  const pager = page.getByRole("navigation", { name: "Audit log pages" });
  await eventually(async () => assert.equal(await rows.count(), 10));
  await pager.getByRole("button", { name: "Next" }).click();
  await eventually(async () => assert.equal(await rows.count(), 2));
  const texts = await rows.allInnerTexts();
  assert.ok(texts.every((text) => /\bno\b/.test(text)), texts.join("\n"));
  assert.equal(new URL(page.url()).searchParams.get("page"), "2");
  await page.reload();
  await eventually(async () => assert.equal(await rows.count(), 2));
  assert.equal(await pager.getByTestId("page-number").innerText(), "Page 2");
  // Succeeded sign-ins: bob's own, on one page.
  await page.getByLabel("Outcome").selectOption("success");
  await eventually(async () => assert.equal(await rows.count(), 1));
  assert.equal(await pager.getByTestId("page-number").innerText(), "Page 1");
  await page.getByLabel("Outcome").selectOption("failure");
  await eventually(async () => assert.equal(await rows.count(), 10));

  // A custom range: an hour that has not come yet has nothing; one around now has them all.
  await page.getByLabel("Since").selectOption("custom");
  await page.getByLabel("From").fill(localDateTime(60));
  await page.getByLabel("To").fill(localDateTime(120));
  await page.getByRole("button", { name: "Apply filters" }).click();
  await table.locator(".empty-row", { hasText: "No events match the filters." }).waitFor();
  // Computed once: a minute may turn between filling the form and checking it.
  const [from, to] = [localDateTime(-60), localDateTime(1)];
  await page.getByLabel("From").fill(from);
  await page.getByLabel("To").fill(to);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await eventually(async () => assert.equal(await rows.count(), 10));
  const query = new URL(page.url()).searchParams;
  assert.deepEqual(
    ["since", "from", "to", "outcome", "code"].map((name) => query.get(name)),
    ["custom", from, to, "failure", "user.login"],
  );
  await page.reload();
  await eventually(async () => assert.equal(await rows.count(), 10));
  assert.equal(await page.getByLabel("From").inputValue(), from);
  await env.screenshot(page, "audit-custom-range");

  // Exports hold every matching event, not only the page shown.
  const download = async (name: string) => {
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name }).click(),
    ]);
    return { name: file.suggestedFilename(), text: await Deno.readTextFile(await file.path()) };
  };
  const json = await download("Export JSON");
  assert.match(json.name, /^postern-audit-.*\.json$/);
  const events = JSON.parse(json.text);
  assert.equal(events.length, 12);
  assert.ok(
    events.every((e: { code: string; success: boolean }) =>
      e.code === "user.login" && e.success === false
    ),
  );
  const csv = await download("Export CSV");
  assert.match(csv.name, /^postern-audit-.*\.csv$/);
  const [header, ...lines] = parseCsv(csv.text);
  assert.deepEqual(header, ["id", "time", "code", "user", "remote_addr", "success", "fields"]);
  assert.equal(lines.length, 12);
  assert.deepEqual(
    lines.map((cells) => Number(cells[0])),
    events.map((e: { id: number }) => e.id),
  );
  for (const [i, cells] of lines.entries()) {
    assert.deepEqual(JSON.parse(cells[6]), events[i].fields);
  }
  // A cell a spreadsheet would run as a formula is text.
  const formula = lines.find((cells) => cells[3].includes("calc"));
  assert.equal(formula?.[3], `'=HYPERLINK("https://example.com/calc","x")`);
  assert.ok(
    !lines.some((cells) => cells.some((cell) => /^[=+@]/.test(cell))),
    "a CSV cell starts with a formula character",
  );
  await page.setViewportSize({ width: 400, height: 800 });
  await env.screenshot(page, "audit-400");
  assert.deepEqual(env.problems(), []);
});
