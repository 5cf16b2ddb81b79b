/**
 * Users, CAs and invites in SQLite: the identity half of the store.
 *
 * @module
 */

import type {
  CaKind,
  CaRecord,
  CaStore,
  ConsumeInviteResult,
  InviteRecord,
  InviteStore,
  LoginFailureState,
  NewUser,
  PendingTotp,
  SecretHash,
  UserPatch,
  UserRecord,
  UserStore,
} from "../store.ts";
import { type Db, explainConstraints, type Gate, num, optNum, rows, str } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";

/** The `cas` table. */
export class SqliteCas implements CaStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  get(kind: CaKind): Promise<CaRecord | null> {
    return this.gate(() => this.db.find(rows.ca, "SELECT * FROM cas WHERE kind = ?", kind));
  }

  putIfAbsent(ca: CaRecord): Promise<CaRecord> {
    return this.gate(() => {
      this.db.run(
        "INSERT OR IGNORE INTO cas (kind, private_key, public_key, created) VALUES (?, ?, ?, ?)",
        ca.kind,
        ca.privateKey,
        ca.publicKey,
        ca.created,
      );
      return rows.ca(this.db.get("SELECT * FROM cas WHERE kind = ?", ca.kind)!);
    });
  }
}

/** The `users` table. */
export class SqliteUsers implements UserStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(user: NewUser): Promise<UserRecord> {
    return this.gate(() => {
      return explainConstraints(() => {
        const r = this.db.get(
          `INSERT INTO users (name, roles, logins, password_hash, totp_secret, totp_confirmed,
           connector, created, updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          user.name,
          JSON.stringify(user.roles),
          JSON.stringify(user.logins),
          user.passwordHash ?? null,
          user.totpSecret ?? null,
          user.totpConfirmed ? 1 : 0,
          user.connector ?? null,
          user.created,
          user.created,
        );
        return rows.user(r!);
      }, cannotCreate.user(user.name));
    });
  }

  get(name: string): Promise<UserRecord | null> {
    return this.gate(() => this.db.find(rows.user, "SELECT * FROM users WHERE name = ?", name));
  }

  list(): Promise<UserRecord[]> {
    return this.gate(() => this.db.all("SELECT * FROM users ORDER BY name").map(rows.user));
  }

  update(name: string, patch: UserPatch, now: number): Promise<UserRecord> {
    return this.gate(() => {
      // COALESCE cannot tell "leave as is" from "set to null", so pass a flag per field.
      const r = this.db.get(
        `UPDATE users SET
           roles = CASE WHEN :setRoles THEN :roles ELSE roles END,
           logins = CASE WHEN :setLogins THEN :logins ELSE logins END,
           password_hash = CASE WHEN :setPassword THEN :password ELSE password_hash END,
           totp_secret = CASE WHEN :setTotp THEN :totp ELSE totp_secret END,
           totp_confirmed = CASE WHEN :setConfirmed THEN :confirmed ELSE totp_confirmed END,
           last_totp_step = CASE WHEN :setTotp THEN 0 ELSE last_totp_step END,
           updated = :now
         WHERE name = :name RETURNING *`,
        {
          name,
          now,
          setRoles: patch.roles !== undefined ? 1 : 0,
          roles: JSON.stringify(patch.roles ?? []),
          setLogins: patch.logins !== undefined ? 1 : 0,
          logins: JSON.stringify(patch.logins ?? []),
          setPassword: patch.passwordHash !== undefined ? 1 : 0,
          password: patch.passwordHash ?? null,
          setTotp: patch.totpSecret !== undefined ? 1 : 0,
          totp: patch.totpSecret ?? null,
          setConfirmed: patch.totpConfirmed !== undefined ? 1 : 0,
          confirmed: patch.totpConfirmed ? 1 : 0,
        },
      );
      if (!r) throw notFound.updateUser(name);
      return rows.user(r);
    });
  }

  delete(name: string): Promise<boolean> {
    return this.gate(() => this.db.run("DELETE FROM users WHERE name = ?", name) > 0);
  }

  reserveLoginAttempt(
    name: string,
    now: number,
    maxAttempts: number,
    expires: number,
  ): Promise<string | null> {
    return this.gate(() => {
      this.db.run("DELETE FROM login_attempts WHERE expires <= ?", now);
      // One statement, so that concurrent reservations (even from two
      // processes) see each other. An expired lock counts no failures.
      const r = this.db.get(
        `INSERT INTO login_attempts (id, user, failures_before, expires)
         SELECT :id, name, CASE WHEN locked_until IS NULL THEN failed_logins ELSE 0 END, :expires
           FROM users
          WHERE name = :name
            AND (locked_until IS NULL OR locked_until <= :now)
            AND (CASE WHEN locked_until IS NULL THEN failed_logins ELSE 0 END)
                + (SELECT count(*) FROM login_attempts WHERE user = :name) < :max
         RETURNING id`,
        { id: crypto.randomUUID(), name, now, max: maxAttempts, expires },
      );
      if (r) return str(r.id);
      if (!this.db.get("SELECT 1 FROM users WHERE name = ?", name)) {
        throw notFound.reserveLoginAttempt(name);
      }
      return null;
    });
  }

  recordLoginSuccess(name: string, attempt: string, now: number): Promise<void> {
    return this.gate(() => {
      this.db.run(
        // A lock that ran out has no failure after it (the first one clears it).
        `UPDATE users SET
           failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= :now THEN 0
             ELSE max(0, failed_logins -
               coalesce((SELECT failures_before FROM login_attempts WHERE id = :attempt), 0)) END,
           locked_until = CASE WHEN locked_until <= :now THEN NULL ELSE locked_until END,
           updated = :now
         WHERE name = :name`,
        { name, attempt, now },
      );
      this.db.run("DELETE FROM login_attempts WHERE id = ?", attempt);
    });
  }

  recordLoginFailure(
    name: string,
    now: number,
    maxFailures: number,
    lockMs: number,
    attempt?: string,
  ): Promise<LoginFailureState> {
    return this.gate(() => {
      if (attempt !== undefined) this.db.run("DELETE FROM login_attempts WHERE id = ?", attempt);
      // One statement, so concurrent failures (even from two processes) each count.
      // Right-hand sides see the old row: "expired" is the lock that ran out before now.
      const r = this.db.get(
        `UPDATE users SET
           failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= :now
                                THEN 1 ELSE failed_logins + 1 END,
           locked_until = CASE
             WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= :now
                        THEN 1 ELSE failed_logins + 1 END) >= :max THEN :now + :lockMs
             WHEN locked_until IS NOT NULL AND locked_until <= :now THEN NULL
             ELSE locked_until END,
           updated = :now
         WHERE name = :name RETURNING failed_logins, locked_until`,
        { name, now, max: maxFailures, lockMs },
      );
      if (!r) throw notFound.recordLoginFailure(name);
      return { failedLogins: num(r.failed_logins), lockedUntil: optNum(r.locked_until) };
    });
  }

  resetLoginFailures(name: string, now: number): Promise<void> {
    return this.gate(() => {
      this.db.run(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, updated = ? WHERE name = ?",
        now,
        name,
      );
    });
  }

  setAdminLock(
    name: string,
    until: number | null,
    reason: string | null,
    now: number,
  ): Promise<void> {
    return this.gate(() => {
      const changed = this.db.run(
        "UPDATE users SET admin_lock_until = ?, admin_lock_reason = ?, updated = ? WHERE name = ?",
        until,
        until === null ? null : reason,
        now,
        name,
      );
      if (changed === 0) throw notFound.lockUser(name);
    });
  }

  setPendingTotp(name: string, pending: PendingTotp | null): Promise<void> {
    return this.gate(() => {
      const changed = this.db.run(
        "UPDATE users SET pending_totp_secret = ?, pending_totp_expires = ? WHERE name = ?",
        pending?.secret ?? null,
        pending?.expires ?? null,
        name,
      );
      if (changed === 0) throw notFound.user(name);
    });
  }

  markSessionMfa(name: string, at: number): Promise<void> {
    return this.gate(() => {
      if (this.db.run("UPDATE users SET session_mfa_at = ? WHERE name = ?", at, name) === 0) {
        throw notFound.user(name);
      }
    });
  }

  useTotpStep(name: string, step: number): Promise<boolean> {
    return this.gate(() =>
      this.db.run(
        "UPDATE users SET last_totp_step = ? WHERE name = ? AND last_totp_step < ?",
        step,
        name,
        step,
      ) === 1
    );
  }
}

/** The `invites` table. */
export class SqliteInvites implements InviteStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(invite: Omit<InviteRecord, "usedAt">): Promise<InviteRecord> {
    return this.gate(() => {
      return explainConstraints(() => {
        const r = this.db.get(
          `INSERT INTO invites (token_hash, user, kind, expires, created)
         VALUES (?, ?, ?, ?, ?) RETURNING *`,
          invite.tokenHash,
          invite.user,
          invite.kind,
          invite.expires,
          invite.created,
        );
        return rows.invite(r!);
      }, cannotCreate.invite(invite.user));
    });
  }

  get(tokenHash: SecretHash): Promise<InviteRecord | null> {
    return this.gate(() =>
      this.db.find(rows.invite, "SELECT * FROM invites WHERE token_hash = ?", tokenHash)
    );
  }

  listForUser(user: string): Promise<InviteRecord[]> {
    return this.gate(() =>
      this.db.all("SELECT * FROM invites WHERE user = ? ORDER BY created DESC", user).map(
        rows.invite,
      )
    );
  }

  consume(tokenHash: SecretHash, now: number): Promise<ConsumeInviteResult> {
    return this.gate((): ConsumeInviteResult => {
      // The guarded UPDATE is the atomic step: of racing callers exactly one sees a row.
      const r = this.db.get(
        `UPDATE invites SET used_at = ?
         WHERE token_hash = ? AND used_at IS NULL AND expires > ? RETURNING *`,
        now,
        tokenHash,
        now,
      );
      if (r) return { ok: true, invite: rows.invite(r) };
      const found = this.db.get("SELECT * FROM invites WHERE token_hash = ?", tokenHash);
      if (!found) return { ok: false, reason: "not_found" };
      return { ok: false, reason: found.used_at !== null ? "used" : "expired" };
    });
  }

  deleteForUser(user: string): Promise<number> {
    return this.gate(() => this.db.run("DELETE FROM invites WHERE user = ?", user));
  }
}
