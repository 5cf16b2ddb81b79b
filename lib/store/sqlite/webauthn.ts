/**
 * Security keys and passkeys (WebAuthn credentials) and the challenges of
 * ceremonies in progress, in SQLite. The counter check and the single use of
 * a challenge are each one guarded statement, atomic across processes.
 *
 * @module
 */

import type { WebAuthnChallengeRecord, WebAuthnCredentialRecord, WebAuthnStore } from "../store.ts";
import { type Db, explainConstraints, type Gate, rows } from "./db.ts";
import { cannotCreate } from "../refusals.ts";

/** The `webauthn_credentials` and `webauthn_challenges` tables. */
export class SqliteWebAuthn implements WebAuthnStore {
  constructor(private readonly db: Db, private readonly gate: Gate) {}

  create(credential: WebAuthnCredentialRecord): Promise<WebAuthnCredentialRecord> {
    return this.gate(() =>
      explainConstraints(() => {
        this.db.run(
          `INSERT INTO webauthn_credentials
             (id, user, name, public_key, counter, transports, discoverable, created, last_used)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          credential.id,
          credential.user,
          credential.name,
          credential.publicKey,
          credential.counter,
          JSON.stringify(credential.transports),
          credential.discoverable ? 1 : 0,
          credential.created,
          credential.lastUsed,
        );
        return { ...credential };
      }, cannotCreate.credential(credential.user))
    );
  }

  get(id: string): Promise<WebAuthnCredentialRecord | null> {
    return this.gate(() =>
      this.db.find(rows.credential, "SELECT * FROM webauthn_credentials WHERE id = ?", id)
    );
  }

  listForUser(user: string): Promise<WebAuthnCredentialRecord[]> {
    return this.gate(() =>
      this.db.all(
        "SELECT * FROM webauthn_credentials WHERE user = ? ORDER BY created, id",
        user,
      ).map(rows.credential)
    );
  }

  delete(user: string, id: string): Promise<boolean> {
    return this.gate(() =>
      this.db.run("DELETE FROM webauthn_credentials WHERE user = ? AND id = ?", user, id) > 0
    );
  }

  deleteForUser(user: string): Promise<number> {
    return this.gate(() => this.db.run("DELETE FROM webauthn_credentials WHERE user = ?", user));
  }

  use(id: string, counter: number, now: number): Promise<boolean> {
    return this.gate(() =>
      this.db.run(
        `UPDATE webauthn_credentials SET counter = ?, last_used = ?
         WHERE id = ? AND (counter < ? OR (counter = 0 AND ? = 0))`,
        counter,
        now,
        id,
        counter,
        counter,
      ) > 0
    );
  }

  putChallenge(challenge: WebAuthnChallengeRecord, now: number): Promise<void> {
    return this.gate(() => {
      this.db.run("DELETE FROM webauthn_challenges WHERE expires <= ?", now);
      this.db.run(
        "INSERT INTO webauthn_challenges (challenge, user, purpose, expires) VALUES (?, ?, ?, ?)",
        challenge.challenge,
        challenge.user,
        challenge.purpose,
        challenge.expires,
      );
    });
  }

  takeChallenge(challenge: string, now: number): Promise<WebAuthnChallengeRecord | null> {
    return this.gate(() =>
      this.db.find(
        rows.challenge,
        "DELETE FROM webauthn_challenges WHERE challenge = ? AND expires > ? RETURNING *",
        challenge,
        now,
      )
    );
  }
}
