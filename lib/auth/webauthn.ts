/**
 * Security keys and passkeys (WebAuthn): the registration and sign-in
 * ceremonies, checked by npm:@simplewebauthn/server (origin, RP id,
 * challenge, signature, flags), with what the library leaves to its caller
 * done here: challenges issued once and bound to a user and a purpose, kept
 * in the store so that another auth server can check the answer, and the
 * signature counter moved forward atomically (a cloned authenticator whose
 * counter goes backwards is refused).
 *
 * The relying party is the proxy users reach: its id is the host name of
 * `proxy.public_addr` (else of the address the proxies registered), and the
 * origins accepted are `https://` that address and every registered proxy's
 * address under the same name. Attestation is `none`: postern trusts the
 * key the user registers while signed in, not its maker.
 *
 * @module
 */

import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { Buffer } from "node:buffer";
import { parseHostPort } from "../config/schema.ts";
import { BadRequest } from "../errors.ts";
import type {
  Store,
  WebAuthnChallengeRecord,
  WebAuthnCredentialRecord,
  WebAuthnPurpose,
} from "../store/store.ts";

/**
 * The library, loaded at the first ceremony: it takes ~80 ms to load, which
 * `postern start` should not wait for (`preloadWebAuthn` loads it once the
 * server is up).
 */
const webauthnLibrary = () => import("@simplewebauthn/server");

/** Loads the WebAuthn library ahead of the first ceremony. */
export async function preloadWebAuthn(): Promise<void> {
  await webauthnLibrary();
}

/** How long a browser has to answer a challenge. */
const CHALLENGE_TTL_MS = 5 * 60_000;
/** Why an assertion whose counter did not move forward is refused (audit log). */
const CLONED = "security key counter did not increase (cloned key?)";
/** Longest name of a key. */
const MAX_KEY_NAME = 64;

/** Who the credentials are for: the proxy's site. */
export interface RelyingParty {
  /** The RP id: the host name users reach the proxy at. */
  id: string;
  /** `https://host[:port]` of every proxy address under that name. */
  origins: string[];
}

/**
 * The outcome of checking a sign-in assertion; the reason is for the audit
 * log only, with the key's owner when the key is known.
 */
export type AssertionCheck =
  | { ok: true; user: string; credential: WebAuthnCredentialRecord }
  | { ok: false; reason: string; user?: string };

/**
 * The relying party of the cluster: from the configured public address,
 * else from the addresses the proxies registered, else this machine's name.
 *
 * @param publicAddr `proxy.public_addr` of the config, if set
 * @param registered `host:port` the proxies registered, most recent first
 */
export function relyingParty(publicAddr: string | undefined, registered: string[]): RelyingParty {
  const addrs = [...(publicAddr ? [publicAddr] : []), ...registered]
    .map((addr) => parseHostPort(addr))
    .filter((addr): addr is NonNullable<typeof addr> => !!addr);
  const id = (addrs[0]?.hostname ?? Deno.hostname()).replace(/^\[|\]$/g, "");
  const origins = addrs
    .filter((addr) => addr.hostname === id || addr.hostname.endsWith(`.${id}`))
    .map((addr) => `https://${addr.hostname}${addr.port === 443 ? "" : `:${addr.port}`}`);
  return { id, origins: [...new Set(origins)] };
}

/** A key's name as the user typed it, trimmed; BadRequest when empty or too long. */
function checkKeyName(name: string): string {
  const trimmed = name.trim();
  const control = [...trimmed].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (!trimmed || trimmed.length > MAX_KEY_NAME || control) {
    throw new BadRequest(
      `Name the security key with 1 to ${MAX_KEY_NAME} characters (e.g. "YubiKey" or "laptop").`,
    );
  }
  return trimmed;
}

/** The ceremonies over the store. */
export class WebAuthnCeremonies {
  constructor(
    private readonly store: Store,
    private readonly rp: () => Promise<RelyingParty>,
    private readonly now: () => number,
  ) {}

  async #issue(
    challenge: string,
    user: string | null,
    purpose: WebAuthnPurpose,
  ): Promise<void> {
    const now = this.now();
    await this.store.webauthn.putChallenge(
      { challenge, user, purpose, expires: now + CHALLENGE_TTL_MS },
      now,
    );
  }

  /** A checker of the answer's challenge: issued for this user and purpose, used once. */
  #challengeFor(user: string | null, purpose: WebAuthnPurpose) {
    let taken: WebAuthnChallengeRecord | null = null;
    return {
      check: async (challenge: string) => {
        taken = await this.store.webauthn.takeChallenge(challenge, this.now());
        return taken !== null && taken.purpose === purpose &&
          (user === null || taken.user === user);
      },
      taken: () => taken,
    };
  }

  /**
   * Options for `navigator.credentials.create()`: a new key for `user`, who
   * may not register one of their keys twice.
   */
  async registrationOptions(user: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const rp = await this.rp();
    const keys = await this.store.webauthn.listForUser(user);
    const { generateRegistrationOptions } = await webauthnLibrary();
    const options = await generateRegistrationOptions({
      rpName: "postern",
      rpID: rp.id,
      userName: user,
      userID: new TextEncoder().encode(user),
      attestationType: "none",
      excludeCredentials: keys.map((key) => ({ id: key.id, transports: key.transports })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    });
    await this.#issue(options.challenge, user, "register");
    return options;
  }

  /**
   * Checks the browser's answer to {@link registrationOptions} and stores the key.
   *
   * @throws BadRequest when the answer does not verify (wrong site, stale or foreign challenge)
   */
  async register(user: string, name: string, response: unknown): Promise<WebAuthnCredentialRecord> {
    const keyName = checkKeyName(name);
    const rp = await this.rp();
    const challenge = this.#challengeFor(user, "register");
    const { verifyRegistrationResponse } = await webauthnLibrary();
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge.check,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        requireUserVerification: false,
      });
    } catch (error) {
      throw new BadRequest(
        "The security key's answer could not be verified (it may have taken too long, or come from another site); try again.",
        { cause: error },
      );
    }
    if (!verified.verified || !verified.registrationInfo) {
      throw new BadRequest("The security key's answer could not be verified; try again.");
    }
    const { credential } = verified.registrationInfo;
    const rk = (response as RegistrationResponseJSON).clientExtensionResults?.credProps?.rk;
    return await this.store.webauthn.create({
      id: credential.id,
      user,
      name: keyName,
      publicKey: Buffer.from(credential.publicKey).toString("base64url"),
      counter: credential.counter,
      transports: credential.transports ?? [],
      discoverable: rk === true,
      created: this.now(),
      lastUsed: null,
    });
  }

  /**
   * Options for `navigator.credentials.get()`: for `user`'s keys, or with
   * `user` null for any passkey of this site (passwordless, user verification
   * required). A user without keys gets options like any other, so the
   * answer does not tell who has keys.
   */
  async loginOptions(user: string | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const rp = await this.rp();
    const keys = user === null ? [] : await this.store.webauthn.listForUser(user);
    const { generateAuthenticationOptions } = await webauthnLibrary();
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      allowCredentials: keys.map((key) => ({ id: key.id, transports: key.transports as never })),
      userVerification: user === null ? "required" : "preferred",
    });
    await this.#issue(options.challenge, user, user === null ? "passwordless" : "login");
    return options;
  }

  /**
   * Checks a sign-in assertion: for `user`'s keys (second factor), or with
   * `user` null for a passkey that names its user and verified them
   * (passwordless). The counter must move forward; the challenge is used up
   * whatever the outcome.
   */
  async checkAssertion(user: string | null, response: unknown): Promise<AssertionCheck> {
    const answer = response as AuthenticationResponseJSON;
    if (!answer || typeof answer !== "object" || typeof answer.id !== "string") {
      return { ok: false, reason: "malformed security key answer" };
    }
    const key = await this.store.webauthn.get(answer.id);
    if (!key || (user !== null && key.user !== user)) {
      return { ok: false, reason: "unknown security key" };
    }
    const refused = (reason: string): AssertionCheck => ({ ok: false, reason, user: key.user });
    const rp = await this.rp();
    const challenge = this.#challengeFor(user, user === null ? "passwordless" : "login");
    const { verifyAuthenticationResponse } = await webauthnLibrary();
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: answer,
        expectedChallenge: challenge.check,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        requireUserVerification: user === null,
        credential: {
          id: key.id,
          publicKey: Buffer.from(key.publicKey, "base64url"),
          counter: key.counter,
          transports: key.transports as never,
        },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : "";
      if (/counter/i.test(message)) return refused(CLONED);
      if (challenge.taken() === null) return refused("unknown or used challenge");
      return refused("security key answer did not verify");
    }
    if (!verified.verified) return refused("security key answer did not verify");
    const counter = verified.authenticationInfo.newCounter;
    if (!(await this.store.webauthn.use(key.id, counter, this.now()))) return refused(CLONED);
    return { ok: true, user: key.user, credential: key };
  }
}
