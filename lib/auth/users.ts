/**
 * User administration in the auth role: creating users with a one-time
 * invite, listing them, changing their roles and logins, locking them out
 * and unlocking them, removing them, and resetting their credentials (old
 * password, second factors, security keys included, and web sessions revoked
 * at once). A lock, a removal or a reset also revokes the user's live
 * connections.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import { parseHostPort } from "../config/schema.ts";
import { AccessDenied, BadRequest, NotFound } from "../errors.ts";
import { hashSecret, type Store } from "../store/store.ts";
import type { AuditInput } from "./audit.ts";
import { lockouts } from "../metrics/metrics.ts";
import type { RevocationFeed } from "./revocation_feed.ts";
import { newToken } from "./credentials.ts";
import { resolveRoles, type Role } from "./roles.ts";
import type { Invite, UserView } from "./service.ts";
import type { UserRecord } from "../store/store.ts";
import type { SsoIdentity } from "./sso.ts";

const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
const LOGIN = /^[a-z_][a-z0-9_.-]{0,31}$/;
/** The lock time of a lock without an end (the largest Date). */
export const FOREVER = 8.64e15;

/** Users and their invites. */
export class UserAdmin {
  constructor(
    private readonly store: Store,
    private readonly roles: Map<string, Role>,
    private readonly proxy: Config["proxy"],
    private readonly inviteTtlMs: number,
    private readonly revocations: RevocationFeed,
    private readonly audit: (event: AuditInput) => Promise<void>,
    private readonly now: () => number,
  ) {}

  /**
   * The link a person opens to set their password and second factor, at the
   * configured public address, else where the most recently started proxy
   * said users reach it (admin commands may run without the server's
   * config), else at a guess, with a warning.
   */
  async inviteUrl(token: string): Promise<{ url: string; warning?: string }> {
    const path = `/web/invite/${token}`;
    if (this.proxy.public_addr) return { url: `https://${this.proxy.public_addr}${path}` };
    const [proxy] = await this.store.proxies.list();
    if (proxy) return { url: `https://${proxy.publicAddr}${path}` };
    const guess = `${Deno.hostname()}:${parseHostPort(this.proxy.web_listen_addr)!.port}`;
    return {
      url: `https://${guess}${path}`,
      warning:
        `no proxy has started yet and proxy.public_addr is not set: the link guesses ${guess}`,
    };
  }

  /** Refuses logins that are not Unix user names and roles that are missing or unknown. */
  #checkAccess(access: { roles?: string[]; logins?: string[] }): void {
    const bad = access.logins?.find((login) => !LOGIN.test(login));
    if (bad !== undefined) throw new BadRequest(`Login "${bad}" is not a valid Unix user name.`);
    if (access.roles) {
      if (access.roles.length === 0) {
        throw new BadRequest("Give the user at least one role (--roles).");
      }
      resolveRoles(access.roles, this.roles);
    }
  }

  async addUser(
    user: { name: string; roles: string[]; logins: string[]; ttlMs?: number },
    actor?: string,
  ): Promise<Invite> {
    if (!USER_NAME.test(user.name)) {
      throw new BadRequest(
        `User name "${user.name}" must be lowercase letters, digits, ".", "_" or "-".`,
      );
    }
    this.#checkAccess(user);
    const now = this.now();
    const ttlMs = user.ttlMs ?? this.inviteTtlMs;
    const invite = await this.store.transaction(async (tx) => {
      await tx.users.create({
        name: user.name,
        roles: user.roles,
        logins: user.logins,
        created: now,
      });
      const token = newToken();
      await tx.invites.create({
        tokenHash: hashSecret(token),
        user: user.name,
        kind: "signup",
        expires: now + ttlMs,
        created: now,
      });
      return token;
    });
    await this.audit({
      code: "user.create",
      user: actor,
      fields: { name: user.name, roles: user.roles, logins: user.logins },
    });
    return { user: user.name, ...await this.inviteUrl(invite), expires: new Date(now + ttlMs) };
  }

  /**
   * Changes a user's roles and/or logins, checked as when the user was added.
   * @returns the user before and after the change
   * @throws NotFound, BadRequest
   */
  async updateUser(
    name: string,
    access: { roles?: string[]; logins?: string[] },
    actor?: string,
  ): Promise<{ before: UserRecord; after: UserRecord }> {
    if (!access.roles && !access.logins) {
      throw new BadRequest(`Cannot change user "${name}": give roles or logins.`);
    }
    this.#checkAccess(access);
    const patch = {
      ...(access.roles ? { roles: access.roles } : {}),
      ...(access.logins ? { logins: access.logins } : {}),
    };
    const changed = await this.store.transaction(async (tx) => {
      const before = await tx.users.get(name);
      if (!before) throw new NotFound(`No user "${name}".`);
      return { before, after: await tx.users.update(name, patch, this.now()) };
    });
    await this.audit({
      code: "user.update",
      user: actor,
      fields: { name, roles: changed.after.roles, logins: changed.after.logins },
    });
    return changed;
  }

  /** A user as admins see it. */
  view(user: UserRecord): UserView {
    // The later of a lockout after failed logins and an administrator's lock.
    const lockedUntil = Math.max(user.lockedUntil ?? 0, user.adminLockUntil ?? 0);
    const locked = lockedUntil > this.now();
    return {
      name: user.name,
      roles: user.roles,
      logins: user.logins,
      status: locked ? "locked" : user.passwordHash || user.connector ? "active" : "invited",
      lockedUntil: locked ? new Date(lockedUntil) : null,
    };
  }

  /**
   * The user a single sign-on login stands for: created at the first login,
   * its roles and logins replaced by the provider's at every later one.
   *
   * @throws AccessDenied when a local user (or another connector's) has the name
   */
  async upsertSsoUser(found: SsoIdentity): Promise<UserRecord> {
    const now = this.now();
    const { user, created } = await this.store.transaction(async (tx) => {
      const existing = await tx.users.get(found.user);
      if (existing && existing.connector !== found.connector) {
        throw new AccessDenied(
          `A postern user named "${found.user}" exists already and does not sign in through ${found.connector}; ask an administrator.`,
        );
      }
      if (existing) {
        const user = await tx.users.update(found.user, {
          roles: found.roles,
          logins: found.logins,
        }, now);
        return { user, created: false };
      }
      const user = await tx.users.create({
        name: found.user,
        roles: found.roles,
        logins: found.logins,
        connector: found.connector,
        created: now,
      });
      return { user, created: true };
    });
    if (created) {
      await this.audit({
        code: "user.create",
        user: found.user,
        fields: {
          name: found.user,
          roles: found.roles,
          logins: found.logins,
          connector: found.connector,
        },
      });
    }
    return user;
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.store.users.list()).map((user) => this.view(user));
  }

  async removeUser(name: string, actor?: string): Promise<void> {
    if (!(await this.store.users.delete(name))) throw new NotFound(`No user "${name}".`);
    await this.audit({ code: "user.delete", user: actor, fields: { name } });
    await this.revocations.revoke(name, "access revoked by an administrator (user removed)");
  }

  /**
   * Locks user `name` out of every credential, certificates already issued
   * too, for `ttlMs` or until unlocked; audited as `user.lock`.
   *
   * @returns when the lock ends, or null when it does not
   */
  async lockUser(
    name: string,
    options: { ttlMs?: number; reason?: string } = {},
    actor?: string,
  ): Promise<Date | null> {
    const ends = options.ttlMs ? new Date(this.now() + options.ttlMs) : null;
    const until = ends?.getTime() ?? FOREVER;
    await this.store.users.setAdminLock(name, until, options.reason ?? null, this.now());
    lockouts.inc({ cause: "admin" });
    await this.revocations.revoke(
      name,
      `access revoked by an administrator${options.reason ? ` (${options.reason})` : ""}`,
    );
    await this.audit({
      code: "user.lock",
      user: actor,
      fields: {
        name,
        until: ends?.toISOString() ?? null,
        reason: options.reason ?? null,
      },
    });
    return ends;
  }

  /** Lifts an administrator's lock and a lockout after failed logins; audited as `user.unlock`. */
  async unlockUser(name: string, actor?: string): Promise<void> {
    await this.store.users.setAdminLock(name, null, null, this.now());
    // Also the lockout after failed logins: the Users page shows both as "locked".
    await this.store.users.resetLoginFailures(name, this.now());
    await this.audit({ code: "user.unlock", user: actor, fields: { name } });
  }

  async resetUser(name: string, ttlMs?: number, actor?: string): Promise<Invite> {
    const now = this.now();
    const expires = now + (ttlMs ?? this.inviteTtlMs);
    const token = await this.store.transaction(async (tx) => {
      if (!(await tx.users.get(name))) throw new NotFound(`No user "${name}".`);
      await tx.users.update(
        name,
        { passwordHash: null, totpSecret: null, totpConfirmed: false },
        now,
      );
      await tx.users.resetLoginFailures(name, now);
      await tx.webSessions.deleteForUser(name);
      await tx.webauthn.deleteForUser(name);
      await tx.invites.deleteForUser(name);
      const token = newToken();
      await tx.invites.create({
        tokenHash: hashSecret(token),
        user: name,
        kind: "reset",
        expires,
        created: now,
      });
      return token;
    });
    await this.audit({ code: "user.reset", user: actor, fields: { name } });
    const invite = { user: name, ...await this.inviteUrl(token), expires: new Date(expires) };
    await this.revocations.revoke(name, "access revoked by an administrator (credentials reset)");
    return invite;
  }
}
