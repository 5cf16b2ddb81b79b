/**
 * Command-line logins waiting for approval, in PostgreSQL: approving is one
 * guarded UPDATE, handing the certificate out one `DELETE ... RETURNING`, so
 * of several auth servers one hands it out.
 *
 * @module
 */

import type { CliLoginRecord, CliLoginStore, SecretHash } from "../store.ts";
import { explainConstraints, rows, type Sql } from "./db.ts";
import { cannotCreate } from "../refusals.ts";

/** The `cli_logins` table. */
export class PgCliLogins implements CliLoginStore {
  constructor(private readonly sql: Sql) {}

  async create(login: CliLoginRecord): Promise<void> {
    await this.sql`DELETE FROM cli_logins WHERE expires <= ${login.created}`;
    await explainConstraints(
      () =>
        this.sql`INSERT INTO cli_logins
          (id_hash, code, public_key, ttl_ms, remote_addr, created, expires, user_name, cert)
          VALUES (${login.idHash}, ${login.code}, ${login.publicKey}, ${login.ttlMs},
            ${login.remoteAddr}, ${login.created}, ${login.expires}, ${login.user}, ${login.cert})`,
      cannotCreate.cliLogin(),
    );
  }

  async getPending(code: string, now: number): Promise<CliLoginRecord | null> {
    const [r] = await this.sql`SELECT * FROM cli_logins
      WHERE code = ${code} AND cert IS NULL AND expires > ${now}`;
    return r ? rows.cliLogin(r) : null;
  }

  async approve(code: string, user: string, cert: string, now: number): Promise<boolean> {
    return (await this.sql`UPDATE cli_logins SET user_name = ${user}, cert = ${cert}
      WHERE code = ${code} AND cert IS NULL AND expires > ${now}`).count > 0;
  }

  async poll(idHash: SecretHash, now: number): Promise<CliLoginRecord | null> {
    const [taken] = await this.sql`DELETE FROM cli_logins
      WHERE id_hash = ${idHash} AND cert IS NOT NULL RETURNING *`;
    if (taken) return rows.cliLogin(taken);
    const [r] = await this.sql`SELECT * FROM cli_logins
      WHERE id_hash = ${idHash} AND expires > ${now}`;
    return r ? rows.cliLogin(r) : null;
  }
}
