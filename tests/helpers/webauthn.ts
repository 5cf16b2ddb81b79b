/**
 * Chromium's virtual authenticator (DevTools Protocol `WebAuthn` domain) on a
 * test page: a CTAP2 authenticator with resident keys and user verification
 * that answers without a touch, so browser tests can register security keys
 * and passkeys, sign in with them, and copy a credential to another
 * authenticator (a clone).
 *
 * @module
 */

import type { CDPSession, Page } from "playwright-core";
import type { WebEnv } from "./web_env.ts";

/** A credential as the virtual authenticator holds it (private key included). */
export interface VirtualCredential {
  credentialId: string;
  isResidentCredential: boolean;
  rpId: string;
  privateKey: string;
  userHandle?: string;
  signCount: number;
}

/** A virtual authenticator attached to one page. */
export interface VirtualAuthenticator {
  id: string;
  cdp: CDPSession;
  /** The credentials it holds now. */
  credentials(): Promise<VirtualCredential[]>;
  /** Puts a credential on it (a copy of another authenticator's: a clone). */
  addCredential(credential: VirtualCredential): Promise<void>;
  /** Detaches it: the page no longer sees it. */
  remove(): Promise<void>;
}

/**
 * Attaches a virtual authenticator to `page`'s browser context.
 *
 * @example
 * ```ts
 * const key = await addVirtualAuthenticator(page);
 * // ... register a key in the page ...
 * assert.equal((await key.credentials()).length, 1);
 * ```
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable", {});
  const { authenticatorId: id } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    id,
    cdp,
    async credentials() {
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
      return credentials as VirtualCredential[];
    },
    async addCredential(credential) {
      await cdp.send("WebAuthn.addCredential", { authenticatorId: id, credential });
    },
    async remove() {
      await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: id });
    },
  };
}

/** The password of users signed up here. */
export const PASSWORD = "correct horse battery staple";
/** `postern users add` and the token of the invite it printed. */
export async function inviteToken(env: WebEnv, name: string): Promise<string> {
  const added = await env.cluster.admin(
    "users",
    "add",
    name,
    "--roles",
    "access",
    "--logins",
    "root",
  );
  const token = added.stdout.match(/\/web\/invite\/(\S+)/)?.[1];
  if (!token) throw new Error(`users add printed no invite: ${added.stdout}${added.stderr}`);
  return token;
}

/** Signs up from an invite with a password and a security key named `keyName`. */
export async function signUpWithKey(page: Page, base: string, token: string, keyName: string) {
  await page.goto(`${base}/web/invite/${token}`);
  await page.getByRole("heading", { name: "Create your account" }).waitFor();
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByLabel("Security key name").fill(keyName);
  await page.getByRole("button", { name: "Register security key or passkey" }).click();
  await page.getByTestId("key-registered").waitFor({ timeout: 30_000 });
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${base}/web/nodes`, { timeout: 30_000 });
}
