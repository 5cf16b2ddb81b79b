/**
 * A headless Debian Chromium driven by npm:playwright-core, for end-to-end
 * tests of the web UI. One browser per test file; each user gets a context
 * (its own cookies) that accepts the proxy's self-signed certificate.
 *
 * Every page created here records JavaScript dialogs (`alert()` and the like)
 * and uncaught page errors, so a test can assert that none happened.
 *
 * @module
 */

import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ROOT } from "./postern.ts";

/** Where Debian installs Chromium. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Where screenshots go (gitignored). */
export const SCREENSHOT_DIR = join(ROOT, "test-output", "screenshots");

/** Flags that keep a headless Chromium quiet and offline (and runnable as root). */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Something a page did that a test may want to assert never happened. */
export interface PageIncident {
  kind: "dialog" | "pageerror";
  /** The page's URL when it happened. */
  url: string;
  message: string;
}

/** A launched browser; `await using` closes it even when the test fails. */
export interface TestBrowser extends AsyncDisposable {
  browser: Browser;
  /** Dialogs and uncaught errors on every page of every context, in order. */
  incidents: PageIncident[];
  /**
   * A new context (separate cookies) with one page, 1280×800, trusting any
   * certificate: the proxy's is self-signed.
   */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  /** Saves a full-page PNG as `test-output/screenshots/<name>.png`; returns the path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium.
 *
 * @returns the browser with helpers; dispose it to close the browser
 * @example
 * ```ts
 * await using browser = await launchBrowser();
 * const { page } = await browser.newPage();
 * await page.goto("https://127.0.0.1:3080/web/login");
 * ```
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const incidents: PageIncident[] = [];
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= browser.close().catch(() => {});
    return closed;
  };
  await Deno.mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    incidents,
    async newPage() {
      const context = await browser.newContext({
        ignoreHTTPSErrors: true,
        viewport: { width: 1280, height: 800 },
      });
      // Fail fast: a missing element should not hold a 90 s suite for 30 s.
      context.setDefaultTimeout(10_000);
      const page = await context.newPage();
      page.on("dialog", (dialog) => {
        incidents.push({ kind: "dialog", url: page.url(), message: dialog.message() });
        dialog.dismiss().catch(() => {});
      });
      page.on("pageerror", (error) => {
        incidents.push({ kind: "pageerror", url: page.url(), message: String(error) });
      });
      return { context, page };
    },
    async screenshot(page, name) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** How long to keep trying. @default 10_000 */
  timeout?: number;
  /** Pause between tries. @default 100 */
  interval?: number;
  /** Prefix of the error thrown on timeout. */
  message?: string;
}

/**
 * Retries `check` until it returns without throwing, like Playwright's
 * `expect.poll`; on timeout throws the last failure.
 *
 * @param check an assertion (sync or async); its return value is passed through
 * @returns what `check` returned the first time it passed
 * @example
 * ```ts
 * const text = await eventually(async () => {
 *   const text = await page.locator("pre").innerText();
 *   assert.match(text, /hello/);
 *   return text;
 * });
 * ```
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeout = options.timeout ?? 10_000;
  const interval = options.interval ?? 100;
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(
          `${options.message ?? "Condition not met"} within ${timeout} ms: ${reason}`,
          {
            cause: error,
          },
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
