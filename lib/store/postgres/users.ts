/**
 * Users, CAs and invites in PostgreSQL: the identity half of the store.
 *
 * Several auth servers write these rows at once, so every guarantee is one
 * guarded statement (PostgreSQL re-checks an UPDATE's condition on the row
 * version it waited for) or a transaction that locks the user's row first.
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
import { explainConstraints, num, optNum, rows, type Sql } from "./db.ts";
import { cannotCreate, notFound } from "../refusals.ts";

/** Runs `fn` in a transaction, or in the one `sql` already is. */
export type InTransaction = <T>(fn: (tx: Sql) => Promise<T>) => Promise<T>;

/** The `cas` table. */
export class PgCas implements CaStore {
  constructor(private readonly sql: Sql) {}

  async get(kind: CaKind): Promise<CaRecord | null> {
    const [r] = await this.sql`SELECT * FROM cas WHERE kind = ${kind}`;
    return r ? rows.ca(r) : null;
  }

  async putIfAbsent(ca: CaRecord): Promise<CaRecord> {
    await this.sql`INSERT INTO cas (kind, private_key, public_key, created)
      VALUES (${ca.kind}, ${ca.privateKey}, ${ca.publicKey}, ${ca.created})
      ON CONFLICT (kind) DO NOTHING`;
    const [r] = await this.sql`SELECT * FROM cas WHERE kind = ${ca.kind}`;
    return rows.ca(r);
  }
}

/** The `users` table. */
export class PgUsers implements UserStore {
  constructor(private readonly sql: Sql, private readonly inTransaction: InTransaction) {}

  create(user: NewUser): Promise<UserRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO users
        (name, roles, logins, password_hash, totp_secret, totp_confirmed, connector, created,
          updated)
        VALUES (${user.name}, ${this.sql.json(user.roles)}, ${this.sql.json(user.logins)},
          ${user.passwordHash ?? null}, ${user.totpSecret ?? null}, ${user.totpConfirmed ?? false},
          ${user.connector ?? null}, ${user.created}, ${user.created})
        RETURNING *`;
      return rows.user(r);
    }, cannotCreate.user(user.name));
  }

  async get(name: string): Promise<UserRecord | null> {
    const [r] = await this.sql`SELECT * FROM users WHERE name = ${name}`;
    return r ? rows.user(r) : null;
  }

  async list(): Promise<UserRecord[]> {
    return (await this.sql`SELECT * FROM users ORDER BY name`).map(rows.user);
  }

  async update(name: string, patch: UserPatch, now: number): Promise<UserRecord> {
    const set: Record<string, unknown> = { updated: now };
    if (patch.roles !== undefined) set.roles = this.sql.json(patch.roles);
    if (patch.logins !== undefined) set.logins = this.sql.json(patch.logins);
    if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
    if (patch.totpConfirmed !== undefined) set.totp_confirmed = patch.totpConfirmed;
    if (patch.totpSecret !== undefined) {
      // Steps of the old secret say nothing about the new one.
      set.totp_secret = patch.totpSecret;
      set.last_totp_step = 0;
    }
    const [r] = await this.sql`UPDATE users SET ${this.sql(set)} WHERE name = ${name} RETURNING *`;
    if (!r) throw notFound.updateUser(name);
    return rows.user(r);
  }

  async delete(name: string): Promise<boolean> {
    return (await this.sql`DELETE FROM users WHERE name = ${name}`).count > 0;
  }

  reserveLoginAttempt(
    name: string,
    now: number,
    maxAttempts: number,
    expires: number,
  ): Promise<string | null> {
    return this.inTransaction(async (tx) => {
      // The user's row lock orders racing reservations, even on other auth servers.
      const [user] = await tx`SELECT failed_logins, locked_until FROM users
        WHERE name = ${name} FOR UPDATE`;
      if (!user) throw notFound.reserveLoginAttempt(name);
      await tx`DELETE FROM login_attempts WHERE expires <= ${now}`;
      const lockedUntil = optNum(user.locked_until);
      if (lockedUntil !== null && lockedUntil > now) return null;
      // An expired lock counts no failures.
      const failures = lockedUntil === null ? num(user.failed_logins) : 0;
      const [{ pending }] = await tx`SELECT count(*)::int AS pending FROM login_attempts
        WHERE user_name = ${name}`;
      if (failures + num(pending) >= maxAttempts) return null;
      const id = crypto.randomUUID();
      await tx`INSERT INTO login_attempts (id, user_name, failures_before, expires)
        VALUES (${id}, ${name}, ${failures}, ${expires})`;
      return id;
    });
  }

  recordLoginSuccess(name: string, attempt: string, now: number): Promise<void> {
    return this.inTransaction(async (tx) => {
      // A lock that ran out has no failure after it (the first one clears it).
      await tx`UPDATE users SET
          failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= ${now} THEN 0
            ELSE greatest(0, failed_logins - coalesce(
              (SELECT failures_before FROM login_attempts WHERE id = ${attempt}), 0)) END,
          locked_until = CASE WHEN locked_until <= ${now} THEN NULL ELSE locked_until END,
          updated = ${now}
        WHERE name = ${name}`;
      await tx`DELETE FROM login_attempts WHERE id = ${attempt}`;
    });
  }

  recordLoginFailure(
    name: string,
    now: number,
    maxFailures: number,
    lockMs: number,
    attempt?: string,
  ): Promise<LoginFailureState> {
    return this.inTransaction(async (tx) => {
      if (attempt !== undefined) await tx`DELETE FROM login_attempts WHERE id = ${attempt}`;
      // One statement: concurrent failures each count (the second waits for the
      // first's row and recomputes from it). Right-hand sides see the old row.
      const [r] = await tx`UPDATE users SET
          failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= ${now}
                               THEN 1 ELSE failed_logins + 1 END,
          locked_until = CASE
            WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= ${now}
                       THEN 1 ELSE failed_logins + 1 END) >= ${maxFailures}
              THEN ${now + lockMs}::bigint
            WHEN locked_until IS NOT NULL AND locked_until <= ${now} THEN NULL
            ELSE locked_until END,
          updated = ${now}
        WHERE name = ${name} RETURNING failed_logins, locked_until`;
      if (!r) throw notFound.recordLoginFailure(name);
      return { failedLogins: num(r.failed_logins), lockedUntil: optNum(r.locked_until) };
    });
  }

  async resetLoginFailures(name: string, now: number): Promise<void> {
    await this.sql`UPDATE users SET failed_logins = 0, locked_until = NULL, updated = ${now}
      WHERE name = ${name}`;
  }

  async setAdminLock(
    name: string,
    until: number | null,
    reason: string | null,
    now: number,
  ): Promise<void> {
    const { count } = await this.sql`UPDATE users SET admin_lock_until = ${until},
        admin_lock_reason = ${until === null ? null : reason}, updated = ${now}
      WHERE name = ${name}`;
    if (count === 0) throw notFound.lockUser(name);
  }

  async markSessionMfa(name: string, at: number): Promise<void> {
    const { count } = await this.sql`UPDATE users SET session_mfa_at = ${at} WHERE name = ${name}`;
    if (count === 0) throw notFound.user(name);
  }

  async useTotpStep(name: string, step: number): Promise<boolean> {
    const { count } = await this.sql`UPDATE users SET last_totp_step = ${step}
      WHERE name = ${name} AND last_totp_step < ${step}`;
    return count === 1;
  }

  async setPendingTotp(name: string, pending: PendingTotp | null): Promise<void> {
    const { count } = await this.sql`UPDATE users SET
        pending_totp_secret = ${pending?.secret ?? null},
        pending_totp_expires = ${pending?.expires ?? null}
      WHERE name = ${name}`;
    if (count === 0) throw notFound.user(name);
  }
}

/** The `invites` table. */
export class PgInvites implements InviteStore {
  constructor(private readonly sql: Sql) {}

  create(invite: Omit<InviteRecord, "usedAt">): Promise<InviteRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO invites
        (token_hash, user_name, kind, expires, created)
        VALUES (${invite.tokenHash}, ${invite.user}, ${invite.kind}, ${invite.expires},
          ${invite.created})
        RETURNING *`;
      return rows.invite(r);
    }, cannotCreate.invite(invite.user));
  }

  async get(tokenHash: SecretHash): Promise<InviteRecord | null> {
    const [r] = await this.sql`SELECT * FROM invites WHERE token_hash = ${tokenHash}`;
    return r ? rows.invite(r) : null;
  }

  async listForUser(user: string): Promise<InviteRecord[]> {
    return (await this.sql`SELECT * FROM invites WHERE user_name = ${user}
      ORDER BY created DESC`).map(rows.invite);
  }

  async consume(tokenHash: SecretHash, now: number): Promise<ConsumeInviteResult> {
    // The guarded UPDATE is the atomic step: of racing callers exactly one sees a row.
    const [r] = await this.sql`UPDATE invites SET used_at = ${now}
      WHERE token_hash = ${tokenHash} AND used_at IS NULL AND expires > ${now} RETURNING *`;
    if (r) return { ok: true, invite: rows.invite(r) };
    const [found] = await this.sql`SELECT used_at FROM invites WHERE token_hash = ${tokenHash}`;
    if (!found) return { ok: false, reason: "not_found" };
    return { ok: false, reason: found.used_at !== null ? "used" : "expired" };
  }

  async deleteForUser(user: string): Promise<number> {
    return (await this.sql`DELETE FROM invites WHERE user_name = ${user}`).count;
  }
}
