/**
 * Proving who you are: password + second factor (TOTP or a security key)
 * checks with lockout and replay protection, passkey sign-in, invites
 * (sign-up and reset) and second-factor enrolment.
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { AccessDenied, BadRequest, isKind, NotFound, Unauthenticated } from "../errors.ts";
import { hashSecret, type Store, type UserRecord } from "../store/store.ts";
import {
  checkPasswordPolicy,
  dummyVerifyPassword,
  hashPassword,
  needsRehash,
  verifyPassword,
} from "./password.ts";
import { checkTotp, newTotpSecret, otpauthUri, qrDataUrl } from "./totp.ts";
import type { AuditLog } from "./audit.ts";
import type {
  Credentials as Typed,
  InviteView,
  NewSecurityKey,
  TotpEnrollment,
} from "./service.ts";
import type { WebAuthnCeremonies } from "./webauthn.ts";
import type { Config } from "../config/config.ts";
import { lockouts } from "../metrics/metrics.ts";

/**
 * The one answer to every failed login: wrong name, password or code, or a
 * locked account. Telling them apart would tell an attacker which names
 * exist; the lockout is in the audit log and on the admin's Users page.
 */
export const LOGIN_FAILED =
  "Invalid user name, password or second factor code; repeated failures lock the account for a while.";

/**
 * How long a reserved login attempt counts if it is never settled (the
 * process died while checking it); a check takes well under a second.
 */
const ATTEMPT_RESERVATION_MS = 60_000;

/** Settings of the checks. */
export interface CredentialPolicy {
  secondFactor: Config["auth"]["second_factor"];
  /** Whether a passkey alone signs a user in to the web UI. */
  passwordless: boolean;
  maxLoginAttempts: number;
  lockoutMs: number;
}

/** How a login proved the second factor, for the audit log. */
type LoginMethod = "password" | "otp" | "webauthn";

/** Whether a policy lets users sign in with a security key / with an authenticator code. */
export function allowsWebAuthn(policy: CredentialPolicy["secondFactor"]): boolean {
  return policy === "webauthn" || policy === "on" || policy === "optional";
}

function allowsOtp(policy: CredentialPolicy["secondFactor"]): boolean {
  return policy === "otp" || policy === "on" || policy === "optional";
}

/** A new random bearer token (256 bits, URL safe). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Password, TOTP and invite logic over the store. */
export class CredentialChecks {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly policy: CredentialPolicy,
    private readonly now: () => number,
    private readonly webauthn: WebAuthnCeremonies,
  ) {}

  /**
   * Checks a login; returns the user record or throws Unauthenticated (the
   * same for every failure). A failure is audited as `event`: a signed-in
   * user's wrong current password is not a failed login.
   */
  async verify(
    credentials: Typed,
    event: "user.login" | "user.password.change" = "user.login",
  ): Promise<UserRecord> {
    const now = this.now();
    const user = await this.store.users.get(credentials.user);
    const fail = async (reason: string) => {
      await this.audit.emit({
        code: event,
        user: credentials.user,
        remoteAddr: credentials.remoteAddr,
        success: false,
        fields: { reason },
      });
      return new Unauthenticated(LOGIN_FAILED);
    };
    if (!user || !user.passwordHash) {
      await dummyVerifyPassword(credentials.password);
      throw await fail(user ? "not signed up" : "unknown user");
    }
    // Reserved before the password is checked: however many arrive at once,
    // at most maxLoginAttempts are checked before the lock.
    const attempt = await this.store.users.reserveLoginAttempt(
      user.name,
      now,
      this.policy.maxLoginAttempts,
      now + ATTEMPT_RESERVATION_MS,
    );
    if (attempt === null) {
      await dummyVerifyPassword(credentials.password); // the same time as any other failure
      await this.audit.emit({
        code: "user.login.locked",
        user: user.name,
        remoteAddr: credentials.remoteAddr,
        success: false,
        fields: {
          reason: user.lockedUntil !== null && user.lockedUntil > now
            ? "locked"
            : "too many attempts at once",
        },
      });
      throw new Unauthenticated(LOGIN_FAILED);
    }
    const passwordOk = await verifyPassword(credentials.password, user.passwordHash);
    const secondFactor = passwordOk
      ? await this.#checkSecondFactor(user, credentials, now)
      : { ok: false as const, reason: "bad password" };
    if (!secondFactor.ok) {
      const state = await this.store.users.recordLoginFailure(
        user.name,
        now,
        this.policy.maxLoginAttempts,
        this.policy.lockoutMs,
        attempt,
      );
      const error = await fail(secondFactor.reason);
      if (state.lockedUntil !== null && state.lockedUntil > now) {
        lockouts.inc({ cause: "failed_logins" });
        await this.audit.emit({
          code: "user.login.locked",
          user: user.name,
          remoteAddr: credentials.remoteAddr,
          success: false,
          fields: { locked_until: new Date(state.lockedUntil).toISOString() },
        });
      }
      throw error;
    }
    await this.store.users.recordLoginSuccess(user.name, attempt, now);
    // The password is at hand only now: upgrade a hash made with older parameters.
    if (needsRehash(user.passwordHash)) {
      await this.store.users.update(
        user.name,
        { passwordHash: await hashPassword(credentials.password) },
        now,
      );
    }
    await this.audit.emit({
      code: "user.login",
      user: user.name,
      remoteAddr: credentials.remoteAddr,
      fields: { method: secondFactor.method },
    });
    return user;
  }

  /**
   * Checks the second factor the policy asks for: a security key's answer or
   * an authenticator code, whichever came and is allowed. Under `optional`, a
   * user who set up neither needs none.
   */
  async #checkSecondFactor(
    user: UserRecord,
    credentials: Typed,
    now: number,
  ): Promise<{ ok: true; method: LoginMethod } | { ok: false; reason: string }> {
    const policy = this.policy.secondFactor;
    if (policy === "off") return { ok: true, method: "password" };
    if (credentials.webauthn !== undefined && allowsWebAuthn(policy)) {
      const check = await this.webauthn.checkAssertion(user.name, credentials.webauthn);
      return check.ok ? { ok: true, method: "webauthn" } : { ok: false, reason: check.reason };
    }
    const code = credentials.otp;
    if (code && allowsOtp(policy) && user.totpSecret && user.totpConfirmed) {
      const step = checkTotp(user.totpSecret, code, now, user.lastTotpStep);
      return step !== null && await this.store.users.useTotpStep(user.name, step)
        ? { ok: true, method: "otp" }
        : { ok: false, reason: "bad second factor" };
    }
    if (policy === "optional" && !user.totpConfirmed && !(await this.#hasKeys(user.name))) {
      return { ok: true, method: "password" };
    }
    return { ok: false, reason: code ? "bad second factor" : "no second factor" };
  }

  async #hasKeys(user: string): Promise<boolean> {
    return (await this.store.webauthn.listForUser(user)).length > 0;
  }

  /**
   * Signs a user in with a passkey alone (`auth.passwordless`): the
   * credential names the user and must have verified them (PIN or
   * biometrics). Refused like any failed login, and while the account is
   * locked out.
   */
  async verifyPasskey(response: unknown, remoteAddr: string): Promise<UserRecord> {
    if (!this.policy.passwordless) {
      throw new BadRequest("Passwordless sign-in is off here; sign in with your password.");
    }
    const check = await this.webauthn.checkAssertion(null, response);
    const user = check.ok ? await this.store.users.get(check.user) : null;
    const now = this.now();
    const refusal = !check.ok
      ? check.reason
      : !user?.passwordHash
      ? "not signed up"
      : user.lockedUntil !== null && user.lockedUntil > now
      ? "locked"
      : null;
    if (refusal !== null || !user) {
      await this.audit.emit({
        code: "user.login",
        user: check.user ?? null,
        remoteAddr,
        success: false,
        fields: { method: "passkey", reason: refusal },
      });
      throw new Unauthenticated(
        "This passkey cannot sign you in; sign in with your password and second factor.",
      );
    }
    await this.audit.emit({
      code: "user.login",
      user: user.name,
      remoteAddr,
      fields: { method: "passkey", key: check.ok ? check.credential.name : null },
    });
    return user;
  }

  /** Creates an invite token for an existing user. */
  async createInvite(
    user: string,
    kind: "signup" | "reset",
    ttlMs: number,
  ): Promise<{ token: string; expires: number }> {
    const token = newToken();
    const now = this.now();
    const expires = now + ttlMs;
    await this.store.invites.create({
      tokenHash: hashSecret(token),
      user,
      kind,
      expires,
      created: now,
    });
    return { token, expires };
  }

  async #usableInvite(token: string) {
    const invite = await this.store.invites.get(hashSecret(token));
    if (!invite || invite.usedAt !== null || invite.expires <= this.now()) {
      throw new NotFound(
        "This invite link is invalid, used or expired.",
      );
    }
    return invite;
  }

  async getInvite(token: string): Promise<InviteView> {
    const invite = await this.#usableInvite(token);
    return { user: invite.user, kind: invite.kind, expires: new Date(invite.expires) };
  }

  /** Starts TOTP enrolment for an invite's user: a fresh unconfirmed secret. */
  async beginInviteEnrollment(token: string): Promise<TotpEnrollment> {
    const invite = await this.#usableInvite(token);
    return await this.#newEnrollment(invite.user);
  }

  async #newEnrollment(user: string): Promise<TotpEnrollment> {
    const secret = newTotpSecret();
    await this.store.users.update(user, { totpSecret: secret, totpConfirmed: false }, this.now());
    const uri = otpauthUri(secret, user);
    return { secret, otpauthUri: uri, qrDataUrl: await qrDataUrl(uri) };
  }

  /** Starts registering a security key for an invite's user. */
  async beginInviteWebAuthn(token: string) {
    if (!allowsWebAuthn(this.policy.secondFactor)) {
      throw new BadRequest("Security keys are not used here; set up an authenticator app.");
    }
    const invite = await this.#usableInvite(token);
    return await this.webauthn.registrationOptions(invite.user);
  }

  /**
   * Sets the password and the second factor from an invite: a TOTP code
   * confirming the app, or a security key (where the policy allows keys);
   * one of them when the policy requires a second factor. Returns the user name.
   */
  async completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
    key?: NewSecurityKey,
  ): Promise<string> {
    checkPasswordPolicy(password);
    const invite = await this.#usableInvite(token);
    const user = await this.store.users.get(invite.user);
    if (!user) throw new NotFound("The invited user no longer exists.");
    const now = this.now();
    const policy = this.policy.secondFactor;
    const withKey = key !== undefined && allowsWebAuthn(policy);
    if (withKey) {
      await this.webauthn.register(invite.user, key.name, key.response);
      await this.audit.emit({
        code: "mfa.add",
        user: invite.user,
        remoteAddr,
        fields: { kind: "webauthn", name: key.name.trim() },
      });
    } else if (policy === "webauthn") {
      throw new BadRequest("Register a security key or passkey first.");
    }
    let step: number | null = null;
    const withOtp = !withKey && (policy === "otp" || policy === "on" ||
      (policy === "optional" && otp !== undefined && otp !== ""));
    if (withOtp) {
      if (!user.totpSecret) {
        throw new BadRequest("Set up your authenticator app first (scan the QR code).");
      }
      step = otp ? checkTotp(user.totpSecret, otp, now, user.lastTotpStep) : null;
      if (step === null) {
        throw new BadRequest(
          "The authenticator code is not valid. Check the device's clock and enter the current code.",
        );
      }
    }
    const passwordHash = await hashPassword(password);
    const consumed = await this.store.invites.consume(invite.tokenHash, now);
    if (!consumed.ok) {
      throw new NotFound("This invite link has just been used or has expired.");
    }
    await this.store.users.update(invite.user, { passwordHash, totpConfirmed: withOtp }, now);
    if (step !== null) await this.store.users.useTotpStep(invite.user, step);
    await this.store.users.resetLoginFailures(invite.user, now);
    await this.audit.emit({
      code: "invite.used",
      user: invite.user,
      remoteAddr,
      fields: { kind: invite.kind },
    });
    return invite.user;
  }

  /**
   * Changes a password after checking the current one and the second factor.
   * A wrong one is AccessDenied, not Unauthenticated: the caller's session is
   * still valid. It still counts towards the account lockout.
   */
  async changePassword(
    user: string,
    oldPassword: string,
    newPassword: string,
    otp: string | undefined,
    remoteAddr: string,
    webauthn?: unknown,
  ) {
    checkPasswordPolicy(newPassword);
    try {
      await this.verify(
        { user, password: oldPassword, otp, webauthn, remoteAddr },
        "user.password.change",
      );
    } catch (error) {
      if (!isKind(error, "unauthenticated")) throw error;
      // Which of the two was wrong stays unsaid, as at sign-in: whoever holds a
      // stolen session must not learn that a guessed password was right.
      throw new AccessDenied(
        this.policy.secondFactor === "off"
          ? "The current password is not correct."
          : "The current password or the second factor is not correct.",
        { cause: error },
      );
    }
    await this.store.users.update(
      user,
      { passwordHash: await hashPassword(newPassword) },
      this.now(),
    );
    await this.audit.emit({ code: "user.password.change", user, remoteAddr });
  }

  /**
   * What confirming a sensitive step asks of a signed-in user: their
   * security key when they have one, else their authenticator code, else
   * nothing more (a single sign-on user, or a policy without second factor).
   */
  async freshFactorOf(user: UserRecord): Promise<"webauthn" | "otp" | "none"> {
    if (this.policy.secondFactor === "off") return "none";
    if (allowsWebAuthn(this.policy.secondFactor) && await this.#hasKeys(user.name)) {
      return "webauthn";
    }
    return allowsOtp(this.policy.secondFactor) && user.totpConfirmed ? "otp" : "none";
  }

  /**
   * Checks a fresh second factor of a signed-in user (see
   * {@link freshFactorOf}); a failure is audited as `event` and counts
   * towards the lockout like a failed login. AccessDenied when it fails.
   */
  async confirmFreshFactor(
    user: UserRecord,
    given: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
    event: "cli.login.approve" | "session.mfa",
  ): Promise<void> {
    const needed = await this.freshFactorOf(user);
    if (needed === "none") return;
    // Wrong codes lock the account as at sign-in: no guessing through here either.
    if (user.lockedUntil !== null && user.lockedUntil > this.now()) {
      await this.audit.emit({
        code: event,
        user: user.name,
        remoteAddr,
        success: false,
        fields: { reason: "locked" },
      });
      throw new AccessDenied(
        `Too many wrong codes: your account is locked until ${
          new Date(user.lockedUntil).toISOString()
        }; try again then, or ask an administrator to unlock it.`,
      );
    }
    const check = await this.#checkSecondFactor(
      user,
      { user: user.name, password: "", remoteAddr, ...given },
      this.now(),
    );
    if (check.ok) return;
    await this.store.users.recordLoginFailure(
      user.name,
      this.now(),
      this.policy.maxLoginAttempts,
      this.policy.lockoutMs,
    );
    await this.audit.emit({
      code: event,
      user: user.name,
      remoteAddr,
      success: false,
      fields: { reason: check.reason },
    });
    throw new AccessDenied(
      needed === "webauthn"
        ? "Your security key did not confirm it is you; try again."
        : "The authenticator code is not correct; try again.",
    );
  }

  /** Checks a signed-in user's password again before a sensitive change; AccessDenied when wrong. */
  async checkPassword(user: string, password: string): Promise<void> {
    const record = await this.store.users.get(user);
    const ok = record?.passwordHash && typeof password === "string"
      ? await verifyPassword(password, record.passwordHash)
      : false;
    if (!ok) throw new AccessDenied("The password is not correct.");
  }

  /** Starts re-enrolment after checking the password; the old secret stays until confirmed. */
  async beginReenrollment(
    user: string,
    password: string,
  ): Promise<TotpEnrollment & { pending: string }> {
    const record = await this.store.users.get(user);
    const ok = record?.passwordHash ? await verifyPassword(password, record.passwordHash) : false;
    if (!ok) throw new AccessDenied("The password is not correct.");
    const secret = newTotpSecret();
    const uri = otpauthUri(secret, user);
    return { secret, otpauthUri: uri, qrDataUrl: await qrDataUrl(uri), pending: secret };
  }

  /** Replaces the TOTP secret once a code from the new one is proven. */
  async confirmReenrollment(user: string, secret: string, otp: string, remoteAddr: string) {
    const record = await this.store.users.get(user);
    if (!record) throw new NotFound(`No user "${user}".`);
    const step = checkTotp(secret, otp, this.now(), 0);
    if (step === null) {
      throw new BadRequest("The authenticator code is not valid for the new secret.");
    }
    await this.store.users.update(user, { totpSecret: secret, totpConfirmed: true }, this.now());
    await this.store.users.useTotpStep(user, step);
    await this.audit.emit({ code: "user.totp.enroll", user, remoteAddr });
  }
}
