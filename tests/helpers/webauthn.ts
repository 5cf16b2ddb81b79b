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
