/**
 * Security keys and passkeys in real Chromium with its virtual authenticator
 * (CTAP2, resident keys, user verification): a key registered at sign-up
 * and on the Account page, sign-in with password + key, passwordless with a
 * passkey, the rule that the last required factor stays, and a cloned
 * credential (counter going backwards) refused. The same sign-up and
 * sign-in through a proxy in the split layout.
 *
 * WebAuthn needs a domain name, so the proxy's public address is
 * `localhost:<port>` and the browser goes there.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { BROWSER_TEST, startWebEnv } from "../helpers/web_env.ts";
import { auditEvents } from "../helpers/gateway.ts";
import { eventually } from "../helpers/browser.ts";
import {
  addVirtualAuthenticator,
  inviteToken,
  PASSWORD,
  signUpWithKey,
} from "../helpers/webauthn.ts";

const AUTH_CONFIG = "  second_factor: on\n  passwordless: true";

/** Signs in with user name and password, leaving the code empty: the key answers. */
async function signInWithKey(page: Page, base: string, user: string) {
  await page.goto(`${base}/web/login`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signOut(page: Page) {
  await page.context().clearCookies();
}

Deno.test(
  "security keys: sign-up, sign-in, account keys, passkey, removal rules and a clone refused",
  BROWSER_TEST,
  async (t) => {
    await using env = await startWebEnv("webauthn", {
      authConfig: AUTH_CONFIG,
      publicHost: "localhost",
    });
    const base = `https://localhost:${env.cluster.postern.webPort}`;
    const page = await env.newPage();
    const first = await addVirtualAuthenticator(page);

    await t.step("an invite signs wendy up with a security key", async () => {
      await signUpWithKey(page, base, await inviteToken(env, "wendy"), "laptop");
      assert.equal(await page.getByTestId("current-user").innerText(), "wendy");
      assert.equal((await first.credentials()).length, 1);
      const added = await auditEvents(env.cluster, "mfa.add");
      assert.ok(added.some((e) => e.user === "wendy" && e.success), JSON.stringify(added));
    });

    await t.step("password + key signs her in; the login is audited as webauthn", async () => {
      await signOut(page);
      await signInWithKey(page, base, "wendy");
      await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
      const logins = await auditEvents(env.cluster, "user.login");
      const last = logins.filter((e) => e.user === "wendy" && e.success).at(-1);
      assert.equal(last?.method, "webauthn", JSON.stringify(last));
    });

    await t.step("the last second factor cannot be removed", async () => {
      await page.goto(`${base}/web/account`);
      const table = page.getByTestId("security-keys-table");
      await table.getByText("laptop").waitFor();
      await page.getByRole("button", { name: "Remove laptop" }).click();
      const alert = page.getByRole("region", { name: "Security keys and passkeys" })
        .getByRole("alert");
      await alert.waitFor();
      assert.match(await alert.innerText(), /Cannot remove your last second factor/);
      await env.screenshot(page, "account-keys");
    });

    // A second device: the first authenticator leaves, a new one registers.
    await first.remove();
    const second = await addVirtualAuthenticator(page);

    await t.step("the Account page adds a second key, after which the first can go", async () => {
      await page.getByLabel("New key name").fill("yubikey");
      await page.locator("#new-key-password").fill(PASSWORD);
      await page.getByRole("button", { name: "Add security key" }).click();
      const table = page.getByTestId("security-keys-table");
      await table.getByText("yubikey").waitFor({ timeout: 30_000 });
      await page.getByRole("button", { name: "Remove laptop" }).click();
      await eventually(async () => {
        assert.equal(await table.getByText("laptop").count(), 0);
      }, { timeout: 15_000 });
      const removed = await auditEvents(env.cluster, "mfa.remove");
      assert.ok(removed.some((e) => e.user === "wendy"), JSON.stringify(removed));
    });

    await t.step("a wrong password with the right key is refused", async () => {
      await signOut(page);
      await page.goto(`${base}/web/login`);
      await page.getByLabel("User name").fill("wendy");
      await page.getByLabel("Password", { exact: true }).fill("not the password");
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("alert").waitFor({ timeout: 30_000 });
      assert.match(await page.getByRole("alert").innerText(), /Invalid user name, password/);
      assert.ok(page.url().endsWith("/web/login"));
    });

    await t.step("passwordless: the passkey alone signs her in", async () => {
      await page.goto(`${base}/web/login`);
      await page.getByRole("button", { name: "Sign in with a passkey" }).click();
      await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
      assert.equal(await page.getByTestId("current-user").innerText(), "wendy");
    });

    await t.step("a cloned passkey whose counter went backwards is refused", async () => {
      const [original] = await second.credentials();
      assert.ok(original.signCount > 0, "the authenticator counts signatures");
      const clonePage = await env.newPage();
      const clone = await addVirtualAuthenticator(clonePage);
      await clone.addCredential({ ...original, signCount: 0 });
      await clonePage.goto(`${base}/web/login`);
      await clonePage.getByRole("button", { name: "Sign in with a passkey" }).click();
      const alert = clonePage.getByRole("alert");
      await alert.waitFor({ timeout: 30_000 });
      assert.match(await alert.innerText(), /This passkey cannot sign you in/);
      assert.ok(clonePage.url().endsWith("/web/login"));
      const refused = (await auditEvents(env.cluster, "user.login"))
        .filter((e) => !e.success && e.user === "wendy");
      assert.ok(
        refused.some((e) => /counter/.test(String(e.reason))),
        JSON.stringify(refused),
      );
    });

    await t.step("the original key still signs in", async () => {
      await signOut(page);
      await signInWithKey(page, base, "wendy");
      await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
    });

    assert.deepEqual(
      env.problems([
        { status: 400, path: /^\/v1\/webapi\/mfa\/webauthn\// },
        { status: 401, path: /^\/v1\/webapi\/sessions/ },
      ]),
      [],
    );
  },
);

Deno.test(
  "security keys through a proxy in the split layout: sign-up and sign-in",
  BROWSER_TEST,
  async () => {
    await using env = await startWebEnv("webauthn-split", {
      split: true,
      authConfig: AUTH_CONFIG,
      publicHost: "localhost",
    });
    const base = `https://localhost:${env.cluster.postern.webPort}`;
    const page = await env.newPage();
    await addVirtualAuthenticator(page);
    await signUpWithKey(page, base, await inviteToken(env, "xena"), "key");
    await signOut(page);
    await signInWithKey(page, base, "xena");
    await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
    assert.equal(await page.getByTestId("current-user").innerText(), "xena");
    // The nodes page may have a request in flight when it signs out: that one gets 401.
    assert.deepEqual(env.problems([{ status: 401, path: /\/nodes$/ }]), []);
  },
);
