/**
 * Security keys and passkeys (WebAuthn credentials) and the challenges of
 * ceremonies in progress, in SQLite. The counter check and the single use of
 * a challenge are each one guarded statement, atomic across processes.
 *
 * @module
 */

import type {
  WebAuthnChallengeRecord,
  WebAuthnCredentialRecord,
  WebAuthnPurpose,
  WebAuthnStore,
} from "../store.ts";
import {
  bool,
  type Db,
  explainConstraints,
  type Gate,
  json,
  num,
  optNum,
  optStr,
  type Row,
  str,
} from "./db.ts";

function toCredential(r: Row): WebAuthnCredentialRecord {
  return {
    id: str(r.id),
    user: str(r.user),
    name: str(r.name),
    publicKey: str(r.public_key),
    counter: num(r.counter),
    transports: json<string[]>(r.transports),
    discoverable: bool(r.discoverable),
    created: num(r.created),
    lastUsed: optNum(r.last_used),
  };
}

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
      }, {
        unique: "Cannot register this security key: it is registered already",
        foreignKey: `Cannot register a security key for "${credential.user}": no such user`,
      })
    );
  }

  get(id: string): Promise<WebAuthnCredentialRecord | null> {
    return this.gate(() =>
      this.db.find(toCredential, "SELECT * FROM webauthn_credentials WHERE id = ?", id)
    );
  }

  listForUser(user: string): Promise<WebAuthnCredentialRecord[]> {
    return this.gate(() =>
      this.db.all(
        "SELECT * FROM webauthn_credentials WHERE user = ? ORDER BY created, id",
        user,
      ).map(toCredential)
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
        (r) => ({
          challenge: str(r.challenge),
          user: optStr(r.user),
          purpose: str(r.purpose) as WebAuthnPurpose,
          expires: num(r.expires),
        }),
        "DELETE FROM webauthn_challenges WHERE challenge = ? AND expires > ? RETURNING *",
        challenge,
        now,
      )
    );
  }
}
