/**
 * A cluster and a browser for a web UI test: sign-in through the form, the
 * page errors, dialogs and console errors the pages had, screenshots, and
 * the terminal steps most tests share.
 *
 * @module
 */

import type { Page } from "playwright-core";
import { launchBrowser, type TestBrowser } from "./browser.ts";
import { type ClusterOptions, startCluster, type TestCluster, type TestUser } from "./cluster.ts";

/** playwright-core keeps pipes and timers of its own until the browser is closed. */
export const BROWSER_TEST = { sanitizeOps: false, sanitizeResources: false } as const;

/** A failed request the browser logs as a console error that a test expects. */
export interface ExpectedFailure {
  status: number;
  path: RegExp;
}

/** Options of a new page. */
export interface PageOptions {
  /** Window width. @default 1280 */
  width?: number;
  /** The `prefers-color-scheme` the page sees. @default "light" */
  colorScheme?: "light" | "dark";
}

/** A cluster, a browser and what the browser's pages did wrong. */
export interface WebEnv extends AsyncDisposable {
  cluster: TestCluster;
  browser: TestBrowser;
  base: string;
  /** A new browser context, signed out, whose console errors are collected. */
  newPage(options?: PageOptions): Promise<Page>;
  /** A new browser context signed in as `user` through the sign-in form. */
  signIn(user: TestUser, options?: PageOptions): Promise<Page>;
  /** Page errors, dialogs and console errors, except the expected failed requests. */
  problems(expected?: ExpectedFailure[]): string[];
  /** Saves `test-output/screenshots/<prefix>-<name>.png`. */
  screenshot(page: Page, name: string): Promise<void>;
}

/**
 * Starts a cluster and a browser.
 *
 * @param prefix screenshot name prefix
 * @example
 * ```ts
 * await using env = await startWebEnv("features");
 * const page = await env.signIn(await env.cluster.createUser("alice"));
 * ```
 */
export async function startWebEnv(prefix: string, options: ClusterOptions = {}): Promise<WebEnv> {
  const cluster = await startCluster(options);
  const browser = await launchBrowser();
  const base = cluster.postern.url;
  const consoleErrors: { text: string; url: string }[] = [];
  const newPage = async ({ width = 1280, colorScheme = "light" }: PageOptions = {}) => {
    const { page } = await browser.newPage();
    if (width !== 1280) await page.setViewportSize({ width, height: 800 });
    await page.emulateMedia({ colorScheme });
    page.on("console", (message) => {
      if (message.type() === "error") {
        consoleErrors.push({ text: message.text(), url: message.location().url ?? "" });
      }
    });
    return page;
  };
  const signIn = async (user: TestUser, options?: PageOptions) => {
    const page = await newPage(options);
    await page.goto(`${base}/web/login`);
    await page.getByLabel("User name").fill(user.name);
    await page.getByLabel("Password", { exact: true }).fill(user.password);
    await page.getByLabel("Authenticator code").fill(await cluster.otp(user));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => !url.pathname.startsWith("/web/login"));
    return page;
  };
  const stop = async () => {
    await browser.close();
    await cluster.stop();
  };
  return {
    cluster,
    browser,
    base,
    newPage,
    signIn,
    problems(expected = []) {
      const failures = consoleErrors.filter(({ text, url }) => {
        const status = Number(text.match(/status of (\d{3})/)?.[1]);
        const path = url ? new URL(url).pathname : "";
        return !expected.some((e) => e.status === status && e.path.test(path));
      });
      return [
        ...browser.incidents.map((i) => `${i.kind} on ${i.url}: ${i.message}`),
        ...failures.map((f) => `console error (${f.url}): ${f.text}`),
      ];
    },
    async screenshot(page, name) {
      await browser.screenshot(page, `${prefix}-${name}`);
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** Fetches from inside a page, so the browser's cookie (and only that) is sent. */
export function pageFetch(
  page: Page,
  path: string,
  init: { method?: string; csrf?: boolean; body?: unknown } = {},
): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  return page.evaluate(async ({ path, init }) => {
    const headers: Record<string, string> = {};
    if (init.csrf) {
      const current = await fetch("/v1/webapi/sessions/current", { credentials: "same-origin" });
      headers["x-csrf-token"] = (await current.json()).csrf_token;
    }
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path, {
      method: init.method ?? "GET",
      headers,
      credentials: "same-origin",
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    return {
      status: response.status,
      body: await response.text(),
      headers: Object.fromEntries(response.headers),
    };
  }, { path, init });
}

/** Waits for the terminal's connection state (`connected`, `ended`, ...). */
export async function waitForTerminalState(
  page: Page,
  state: string,
  timeout = 30_000,
): Promise<void> {
  await page.locator(`[data-testid="terminal-status"][data-state="${state}"]`).waitFor({ timeout });
}

/** Opens a web terminal to `login@node`, waits until it is connected and returns the session id. */
export async function openTerminal(env: WebEnv, page: Page, login: string, node = "saturn") {
  const query = new URLSearchParams({ node, login });
  await page.goto(`${env.base}/web/terminal/new?${query}`);
  await waitForTerminalState(page, "connected");
  return (await page.getByTestId("session-id").innerText()).trim();
}

/** Types a line into the terminal. */
export async function typeInTerminal(page: Page, text: string): Promise<void> {
  await page.getByTestId("terminal").click();
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** The terminal's visible text, one line per row. */
export function terminalText(page: Page): Promise<string> {
  return page.getByTestId("terminal").locator(".xterm-rows").innerText();
}
