/**
 * Command-line logins waiting for approval, in SQLite: approving is one
 * guarded UPDATE, handing the certificate out one `DELETE ... RETURNING`.
 *
 * @module
 */

import type { CliLoginRecord, CliLoginStore, SecretHash } from "../store.ts";
import { type Db, explainConstraints, type Gate, rows } from "./db.ts";
import { cannotCreate } from "../refusals.ts";

/** The `cli_logins` table. */
export class SqliteCliLogins implements CliLoginStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(login: CliLoginRecord): Promise<void> {
    return this.gate(() => {
      this.db.run("DELETE FROM cli_logins WHERE expires <= ?", login.created);
      explainConstraints(() =>
        this.db.run(
          `INSERT INTO cli_logins
             (id_hash, code, public_key, ttl_ms, remote_addr, created, expires, user, cert)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          login.idHash,
          login.code,
          login.publicKey,
          login.ttlMs,
          login.remoteAddr,
          login.created,
          login.expires,
          login.user,
          login.cert,
        ), cannotCreate.cliLogin());
    });
  }

  getPending(code: string, now: number): Promise<CliLoginRecord | null> {
    return this.gate(() =>
      this.db.find(
        rows.cliLogin,
        "SELECT * FROM cli_logins WHERE code = ? AND cert IS NULL AND expires > ?",
        code,
        now,
      )
    );
  }

  approve(code: string, user: string, cert: string, now: number): Promise<boolean> {
    return this.gate(() =>
      this.db.run(
        `UPDATE cli_logins SET user = ?, cert = ?
         WHERE code = ? AND cert IS NULL AND expires > ?`,
        user,
        cert,
        code,
        now,
      ) > 0
    );
  }

  poll(idHash: SecretHash, now: number): Promise<CliLoginRecord | null> {
    return this.gate(() =>
      this.db.find(
        rows.cliLogin,
        "DELETE FROM cli_logins WHERE id_hash = ? AND cert IS NOT NULL RETURNING *",
        idHash,
      ) ??
        this.db.find(
          rows.cliLogin,
          "SELECT * FROM cli_logins WHERE id_hash = ? AND expires > ?",
          idHash,
          now,
        )
    );
  }
}
