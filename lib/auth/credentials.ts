/**
 * Proving who you are: password + TOTP checks with lockout and replay
 * protection, invites (sign-up and reset) and second-factor enrolment.
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
import type { Credentials as Typed, InviteView, TotpEnrollment } from "./service.ts";
import { lockouts } from "../metrics/metrics.ts";

/** The one message every failed login gets: it never says which part was wrong. */
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
  secondFactor: "otp" | "off";
  maxLoginAttempts: number;
  lockoutMs: number;
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
    const secondFactorOk = passwordOk && await this.#checkSecondFactor(user, credentials.otp, now);
    if (!secondFactorOk) {
      const state = await this.store.users.recordLoginFailure(
        user.name,
        now,
        this.policy.maxLoginAttempts,
        this.policy.lockoutMs,
        attempt,
      );
      const error = await fail(passwordOk ? "bad second factor" : "bad password");
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
    });
    return user;
  }

  async #checkSecondFactor(
    user: UserRecord,
    code: string | undefined,
    now: number,
  ): Promise<boolean> {
    if (this.policy.secondFactor === "off") return true;
    if (!code || !user.totpSecret || !user.totpConfirmed) return false;
    const step = checkTotp(user.totpSecret, code, now, user.lastTotpStep);
    return step !== null && await this.store.users.useTotpStep(user.name, step);
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

  /** Sets password and confirms TOTP from an invite; returns the user name. */
  async completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
  ): Promise<string> {
    checkPasswordPolicy(password);
    const invite = await this.#usableInvite(token);
    const user = await this.store.users.get(invite.user);
    if (!user) throw new NotFound("The invited user no longer exists.");
    const now = this.now();
    let step: number | null = null;
    if (this.policy.secondFactor === "otp") {
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
    await this.store.users.update(invite.user, {
      passwordHash,
      totpConfirmed: this.policy.secondFactor === "otp",
    }, now);
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
  ) {
    checkPasswordPolicy(newPassword);
    try {
      await this.verify({ user, password: oldPassword, otp, remoteAddr }, "user.password.change");
    } catch (error) {
      if (!isKind(error, "unauthenticated")) throw error;
      // Which of the two was wrong stays unsaid, as at sign-in: whoever holds a
      // stolen session must not learn that a guessed password was right.
      throw new AccessDenied(
        this.policy.secondFactor === "otp"
          ? "The current password or the authenticator code is not correct."
          : "The current password is not correct.",
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
