/**
 * `postern login` approved in a browser: with `--browser` the user approves
 * with their security key (Chromium's virtual authenticator), with `--auth
 * <connector>` they sign in through an OpenID Provider (npm:oidc-provider)
 * first; either way the CLI receives a certificate that stock `ssh` uses
 * through the proxy.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BROWSER_TEST, startWebEnv, type WebEnv } from "../helpers/web_env.ts";
import { MAIN } from "../helpers/postern.ts";
import { defaultSshOptions, runSsh } from "../helpers/sshd.ts";
import { identityOptions } from "../helpers/gateway.ts";
import { addVirtualAuthenticator, inviteToken, signUpWithKey } from "../helpers/webauthn.ts";
import { OIDC_CLIENT, testProvider } from "../helpers/oidc_provider.ts";

/** A running `postern login`: the address it printed, and how it ended. */
async function startCliLogin(home: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "login", "--headless", ...args],
    env: { POSTERN_HOME: home },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // The first use of the proxy asks whether to trust its certificate.
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("y\n"));
  await writer.close();
  let stderr = "";
  const { promise: printed, resolve } = Promise.withResolvers<string>();
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      const url = stderr.match(/^\s+(https:\/\/\S+)$/m)?.[1];
      if (url) resolve(url);
    }
  })();
  const drained = child.stdout.pipeTo(new WritableStream());
  const ended = Promise.all([child.status, reading, drained]).then(([status]) => ({
    code: status.code,
    stderr,
  }));
  const url = await Promise.race([
    printed,
    ended.then((end) => Promise.reject(new Error(`postern login ended: ${end.stderr}`))),
  ]);
  return { url, ended, code: url.match(/([B-Z]{4}-[B-Z]{4})/)?.[1] ?? "" };
}

/** Logs in to saturn as root through the proxy with the CLI's key and certificate. */
async function sshWithCliKeys(env: WebEnv, home: string, proxyDir: string, user: string) {
  const keys = join(home, "keys", proxyDir);
  const result = await runSsh([
    ...defaultSshOptions,
    ...identityOptions({ keyPath: join(keys, user), certPath: join(keys, `${user}-cert.pub`) }),
    "-p",
    String(env.cluster.postern.sshPort),
    "root:saturn@127.0.0.1",
    "echo through-the-proxy",
  ]);
  assert.equal(result.stdout.trim(), "through-the-proxy", result.stderr);
}

async function approve(page: Page, url: string, code: string, button: string) {
  if (page.url() !== url) await page.goto(url);
  assert.equal(await page.getByTestId("cli-login-code").innerText(), code);
  await page.getByRole("button", { name: button }).click();
  await page.getByText("Approved: your terminal receives its certificate").waitFor({
    timeout: 30_000,
  });
}

Deno.test(
  "postern login (--browser implied by second_factor webauthn): approved with a security key, the certificate works with ssh",
  BROWSER_TEST,
  async () => {
    await using env = await startWebEnv("cli-browser", {
      authConfig: "  second_factor: webauthn",
      publicHost: "localhost",
    });
    const port = env.cluster.postern.webPort;
    const base = `https://localhost:${port}`;
    const page = await env.newPage();
    await addVirtualAuthenticator(page);
    await signUpWithKey(page, base, await inviteToken(env, "yuri"), "key");
    const home = join(env.cluster.dir, "yuri-home");
    // No --browser: a proxy whose sign-in needs security keys sends the CLI to the browser.
    const login = await startCliLogin(home, ["--proxy", `localhost:${port}`]);
    assert.ok(login.url.startsWith(`${base}/web/cli-login/`), login.url);
    await approve(page, login.url, login.code, "Approve with security key");
    const ended = await login.ended;
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stderr, /Logged in as yuri/);
    await sshWithCliKeys(env, home, `localhost_${port}`, "yuri");
  },
);

Deno.test(
  "postern login --auth <connector>: single sign-on in the browser, the certificate works with ssh",
  BROWSER_TEST,
  async () => {
    await using idp = testProvider({
      olga: { email: "olga@example.com", preferred_username: "olga", groups: ["ops"] },
    });
    const secretFile = await Deno.makeTempFile({ prefix: "postern-oidc-secret-" });
    await Deno.writeTextFile(secretFile, OIDC_CLIENT.secret);
    await using env = await startWebEnv("cli-sso", {
      authConfig: [
        "  connectors:",
        "    - name: example",
        `      issuer_url: ${idp.issuer}`,
        `      client_id: ${OIDC_CLIENT.id}`,
        `      client_secret_file: ${secretFile}`,
        "      scopes: [openid, email, profile, groups]",
        "      claims_to_roles:",
        "        - {claim: groups, value: ops, roles: [access], logins: [root]}",
      ].join("\n"),
    });
    await idp.start(`${env.base}/v1/webapi/oidc/callback`);
    const port = env.cluster.postern.webPort;
    const home = join(env.cluster.dir, "olga-home");
    const login = await startCliLogin(home, ["--proxy", `127.0.0.1:${port}`, "--auth", "example"]);
    assert.match(login.url, /\/v1\/webapi\/oidc\/login\/example\?next=/);
    const page = await env.newPage();
    await page.goto(login.url);
    await page.locator('input[name="login"]').fill("olga");
    await page.locator('input[name="password"]').fill("any password");
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click(); // consent
    await page.waitForURL(`${env.base}/web/cli-login/${login.code}`, { timeout: 30_000 });
    await approve(page, page.url(), login.code, "Approve login");
    const ended = await login.ended;
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stderr, /Logged in as olga/);
    await sshWithCliKeys(env, home, `127.0.0.1_${port}`, "olga");
    await Deno.remove(secretFile);
  },
);
