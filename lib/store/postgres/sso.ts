/**
 * Single sign-on logins in progress in PostgreSQL; taking one is a single
 * `DELETE ... RETURNING`, so of several auth servers one accepts a callback.
 *
 * @module
 */

import type { SecretHash, SsoRequestRecord, SsoRequestStore } from "../store.ts";
import { rows, type Sql } from "./db.ts";

/** The `sso_requests` table. */
export class PgSsoRequests implements SsoRequestStore {
  constructor(private readonly sql: Sql) {}

  async put(request: SsoRequestRecord, now: number): Promise<void> {
    await this.sql`DELETE FROM sso_requests WHERE expires <= ${now}`;
    await this.sql`INSERT INTO sso_requests
        (state_hash, connector, nonce, code_verifier, redirect_uri, expires)
      VALUES (${request.stateHash}, ${request.connector}, ${request.nonce},
        ${request.codeVerifier}, ${request.redirectUri}, ${request.expires})`;
  }

  async take(stateHash: SecretHash, now: number): Promise<SsoRequestRecord | null> {
    const [r] = await this.sql`DELETE FROM sso_requests
      WHERE state_hash = ${stateHash} AND expires > ${now} RETURNING *`;
    return r ? rows.ssoRequest(r) : null;
  }
}
