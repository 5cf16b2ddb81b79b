/**
 * A user's own security keys and passkeys (the Account page): listing them
 * with the authenticator app, registering one more after the password is
 * given again, and removing one, never the last second factor sign-in
 * requires. Additions and removals are audited (`mfa.add`, `mfa.remove`).
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { BadRequest, NotFound } from "../errors.ts";
import type { Store, WebAuthnCredentialRecord } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { allowsWebAuthn, type CredentialChecks } from "./credentials.ts";
import type { SecondFactors, SecurityKeyView, WebAuthnOptions } from "./service.ts";
import type { WebAuthnCeremonies } from "./webauthn.ts";

/** A stored key as its owner sees it. */
export function securityKeyView(key: WebAuthnCredentialRecord): SecurityKeyView {
  return {
    id: key.id,
    name: key.name,
    created: new Date(key.created),
    lastUsed: key.lastUsed === null ? null : new Date(key.lastUsed),
    passkey: key.discoverable,
  };
}

/** The Account page's second factors, for one signed-in user at a time. */
export class SecurityKeys {
  constructor(
    private readonly store: Store,
    private readonly policy: Config["auth"]["second_factor"],
    private readonly webauthn: WebAuthnCeremonies,
    private readonly credentials: CredentialChecks,
    private readonly audit: (event: AuditInput) => Promise<void>,
  ) {}

  async list(user: string): Promise<SecondFactors> {
    const record = await this.store.users.get(user);
    const keys = await this.store.webauthn.listForUser(user);
    return { totp: record?.totpConfirmed === true, keys: keys.map(securityKeyView) };
  }

  async beginRegistration(user: string, password: string): Promise<WebAuthnOptions> {
    if (!allowsWebAuthn(this.policy)) {
      throw new BadRequest(
        `Security keys are not used here (auth.second_factor is ${this.policy}).`,
      );
    }
    // The password again: whoever holds a stolen session must not add a key of their own.
    await this.credentials.checkPassword(user, password);
    return await this.webauthn.registrationOptions(user) as unknown as WebAuthnOptions;
  }

  async finishRegistration(
    user: string,
    name: string,
    response: unknown,
    remoteAddr: string,
  ): Promise<SecurityKeyView> {
    if (typeof name !== "string") throw new BadRequest("Name the security key.");
    const key = await this.webauthn.register(user, name, response);
    await this.audit({
      code: "mfa.add",
      user,
      remoteAddr,
      fields: { kind: "webauthn", name: key.name, passkey: key.discoverable },
    });
    return securityKeyView(key);
  }

  async remove(user: string, id: string, remoteAddr: string): Promise<void> {
    const keys = await this.store.webauthn.listForUser(user);
    const key = keys.find((k) => k.id === id);
    if (!key) throw new NotFound("You have no such security key; reload the page.");
    const totp = (await this.store.users.get(user))?.totpConfirmed === true;
    const othersLeft = keys.length > 1 || (this.policy === "on" && totp);
    if ((this.policy === "webauthn" || this.policy === "on") && !othersLeft) {
      throw new BadRequest(
        "Cannot remove your last second factor: signing in requires one. Register another security key first.",
      );
    }
    await this.store.webauthn.delete(user, id);
    await this.audit({
      code: "mfa.remove",
      user,
      remoteAddr,
      fields: { kind: "webauthn", name: key.name },
    });
  }
}
