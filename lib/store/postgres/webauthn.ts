/**
 * Security keys and passkeys (WebAuthn credentials) and the challenges of
 * ceremonies in progress, in PostgreSQL. The counter check and the single use
 * of a challenge are each one guarded statement, so several auth servers
 * cannot both accept one assertion.
 *
 * @module
 */

import type { WebAuthnChallengeRecord, WebAuthnCredentialRecord, WebAuthnStore } from "../store.ts";
import { explainConstraints, rows, type Sql } from "./db.ts";
import { cannotCreate } from "../refusals.ts";

/** The `webauthn_credentials` and `webauthn_challenges` tables. */
export class PgWebAuthn implements WebAuthnStore {
  constructor(private readonly sql: Sql) {}

  create(credential: WebAuthnCredentialRecord): Promise<WebAuthnCredentialRecord> {
    return explainConstraints(async () => {
      const [r] = await this.sql`INSERT INTO webauthn_credentials
        (id, user_name, name, public_key, counter, transports, discoverable, created, last_used)
        VALUES (${credential.id}, ${credential.user}, ${credential.name}, ${credential.publicKey},
          ${credential.counter}, ${
        this.sql.json(credential.transports)
      }, ${credential.discoverable},
          ${credential.created}, ${credential.lastUsed})
        RETURNING *`;
      return rows.credential(r);
    }, cannotCreate.credential(credential.user));
  }

  async get(id: string): Promise<WebAuthnCredentialRecord | null> {
    const [r] = await this.sql`SELECT * FROM webauthn_credentials WHERE id = ${id}`;
    return r ? rows.credential(r) : null;
  }

  async listForUser(user: string): Promise<WebAuthnCredentialRecord[]> {
    return (await this.sql`SELECT * FROM webauthn_credentials WHERE user_name = ${user}
      ORDER BY created, id`).map(rows.credential);
  }

  async delete(user: string, id: string): Promise<boolean> {
    return (await this.sql`DELETE FROM webauthn_credentials
      WHERE user_name = ${user} AND id = ${id}`).count > 0;
  }

  async deleteForUser(user: string): Promise<number> {
    return (await this.sql`DELETE FROM webauthn_credentials WHERE user_name = ${user}`).count;
  }

  async use(id: string, counter: number, now: number): Promise<boolean> {
    // PostgreSQL re-checks the condition on the row version it waited for:
    // of two sign-ins with one counter value, one wins.
    return (await this.sql`UPDATE webauthn_credentials SET counter = ${counter}, last_used = ${now}
      WHERE id = ${id} AND (counter < ${counter} OR (counter = 0 AND ${counter}::bigint = 0))`)
      .count > 0;
  }

  async putChallenge(challenge: WebAuthnChallengeRecord, now: number): Promise<void> {
    await this.sql`DELETE FROM webauthn_challenges WHERE expires <= ${now}`;
    await this.sql`INSERT INTO webauthn_challenges (challenge, user_name, purpose, expires)
      VALUES (${challenge.challenge}, ${challenge.user}, ${challenge.purpose}, ${challenge.expires})`;
  }

  async takeChallenge(challenge: string, now: number): Promise<WebAuthnChallengeRecord | null> {
    const [r] = await this.sql`DELETE FROM webauthn_challenges
      WHERE challenge = ${challenge} AND expires > ${now} RETURNING *`;
    return r ? rows.challenge(r) : null;
  }
}
