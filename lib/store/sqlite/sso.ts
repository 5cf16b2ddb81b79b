/**
 * Single sign-on logins in progress in SQLite; taking one is a single
 * `DELETE ... RETURNING`, so a callback is accepted once.
 *
 * @module
 */

import type { SecretHash, SsoRequestRecord, SsoRequestStore } from "../store.ts";
import { type Db, type Gate, rows } from "./db.ts";

/** The `sso_requests` table. */
export class SqliteSsoRequests implements SsoRequestStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  put(request: SsoRequestRecord, now: number): Promise<void> {
    return this.gate(() => {
      this.db.run("DELETE FROM sso_requests WHERE expires <= ?", now);
      this.db.run(
        `INSERT INTO sso_requests
           (state_hash, connector, nonce, code_verifier, redirect_uri, expires)
         VALUES (?, ?, ?, ?, ?, ?)`,
        request.stateHash,
        request.connector,
        request.nonce,
        request.codeVerifier,
        request.redirectUri,
        request.expires,
      );
    });
  }

  take(stateHash: SecretHash, now: number): Promise<SsoRequestRecord | null> {
    return this.gate(() =>
      this.db.find(
        rows.ssoRequest,
        "DELETE FROM sso_requests WHERE state_hash = ? AND expires > ? RETURNING *",
        stateHash,
        now,
      )
    );
  }
}
