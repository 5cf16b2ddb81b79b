/**
 * Single sign-on with OpenID Connect in real Chromium against a real
 * OpenID Provider (npm:oidc-provider on loopback): "Sign in with Example
 * IdP" on the sign-in page, the provider's own sign-in and consent pages,
 * and back signed in as a user created from the claims, with the mapped
 * roles and logins; an account in no mapped group, a callback another
 * browser started, and a replayed state are refused with a clear message.
 * The same sign-in through a proxy in the split layout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BROWSER_TEST, pageFetch, startWebEnv } from "../helpers/web_env.ts";
import { auditEvents } from "../helpers/gateway.ts";
import { OIDC_CLIENT, testProvider } from "../helpers/oidc_provider.ts";

/** Walks the provider's development sign-in and consent pages as `login`. */
async function signInAtProvider(page: Page, base: string, login: string) {
  await page.goto(`${base}/web/login`);
  await page.getByRole("link", { name: "Sign in with Example IdP" }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password");
  await page.locator('button[type="submit"]').click();
  // Consent, the first time this account signs in to the client.
  const consent = page.locator('button[type="submit"]');
  await page.waitForURL((url) => url.origin === base || url.pathname.includes("interaction"));
  if (new URL(page.url()).origin !== base) await consent.click();
  await page.waitForURL((url) => url.origin === base, { timeout: 30_000 });
}

Deno.test(
  "single sign-on: Chromium signs in through an OpenID Provider; refusals say why",
  BROWSER_TEST,
  async (t) => {
    await using idp = testProvider({
      olga: { email: "olga@example.com", preferred_username: "olga", groups: ["ops", "dev"] },
      dave: { email: "dave@example.com", preferred_username: "dave", groups: ["dev"] },
    });
    const secretDir = await Deno.makeTempDir({ prefix: "postern-oidc-" });
    const secretFile = join(secretDir, "client-secret");
    await Deno.writeTextFile(secretFile, OIDC_CLIENT.secret + "\n");
    await using env = await startWebEnv("sso", {
      authConfig: [
        "  connectors:",
        "    - name: example",
        "      display: Example IdP",
        `      issuer_url: ${idp.issuer}`,
        `      client_id: ${OIDC_CLIENT.id}`,
        `      client_secret_file: ${secretFile}`,
        "      scopes: [openid, email, profile, groups]",
        "      claims_to_roles:",
        "        - claim: groups",
        "          value: ops",
        "          roles: [access]",
        '          logins: ["{{email.local}}", root]',
      ].join("\n"),
    });
    const base = env.base;
    await idp.start(`${base}/v1/webapi/oidc/callback`);
    const page = await env.newPage();
    const callbacks: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes("/v1/webapi/oidc/callback")) callbacks.push(request.url());
    });

    await t.step("olga signs in through the provider and gets the mapped access", async () => {
      await signInAtProvider(page, base, "olga");
      await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
      assert.equal(await page.getByTestId("current-user").innerText(), "olga");
      const current = JSON.parse((await pageFetch(page, "/v1/webapi/sessions/current")).body);
      assert.deepEqual(current.roles, ["access"]);
      assert.deepEqual(current.logins.sort(), ["olga", "root"]);
      const logins = (await auditEvents(env.cluster, "user.login"))
        .filter((e) => e.user === "olga" && e.success);
      assert.equal(logins.at(-1)?.method, "sso");
      assert.equal(logins.at(-1)?.connector, "example");
      await env.screenshot(page, "signed-in");
    });

    await t.step("a replayed callback is refused", async () => {
      const replay = new URL(callbacks.at(-1)!);
      await page.context().clearCookies();
      await page.context().addCookies([{
        name: "__Host-postern_sso",
        value: replay.searchParams.get("state")!,
        url: base,
        secure: true,
        httpOnly: true,
        sameSite: "Lax",
      }]);
      await page.goto(replay.href);
      await page.waitForURL((url) => url.pathname === "/web/login");
      const alert = page.getByRole("alert");
      assert.match(await alert.innerText(), /unknown, used or expired/);
    });

    await t.step("a callback this browser did not start is refused", async () => {
      await page.goto(`${base}/v1/webapi/oidc/callback?code=abc&state=forged`);
      await page.waitForURL((url) => url.pathname === "/web/login");
      assert.match(await page.getByRole("alert").innerText(), /not started in this browser/);
    });

    await t.step("an account in no mapped group is refused", async () => {
      const other = await env.newPage();
      await signInAtProvider(other, base, "dave");
      await other.waitForURL((url) => url.pathname === "/web/login");
      assert.match(await other.getByRole("alert").innerText(), /in no group that grants access/);
      const users = await env.cluster.admin("users", "ls");
      assert.doesNotMatch(users.stdout, /\bdave\b/);
    });

    await Deno.remove(secretDir, { recursive: true });
  },
);

Deno.test(
  "single sign-on through a proxy in the split layout",
  BROWSER_TEST,
  async () => {
    await using idp = testProvider({
      olga: { email: "olga@example.com", preferred_username: "olga", groups: ["ops"] },
    });
    const secretFile = await Deno.makeTempFile({ prefix: "postern-oidc-secret-" });
    await Deno.writeTextFile(secretFile, OIDC_CLIENT.secret);
    await using env = await startWebEnv("sso-split", {
      split: true,
      authConfig: [
        "  connectors:",
        "    - name: example",
        "      display: Example IdP",
        `      issuer_url: ${idp.issuer}`,
        `      client_id: ${OIDC_CLIENT.id}`,
        `      client_secret_file: ${secretFile}`,
        "      scopes: [openid, email, profile, groups]",
        "      claims_to_roles:",
        "        - {claim: groups, value: ops, roles: [access], logins: [root]}",
      ].join("\n"),
    });
    await idp.start(`${env.base}/v1/webapi/oidc/callback`);
    const page = await env.newPage();
    await signInAtProvider(page, env.base, "olga");
    await page.waitForURL(`${env.base}/web/nodes`, { timeout: 30_000 });
    assert.equal(await page.getByTestId("current-user").innerText(), "olga");
    await Deno.remove(secretFile);
  },
);
