/**
 * The PostgreSQL schema as an ordered list of migrations, applied under an
 * advisory lock so that several auth servers starting together on one
 * database apply each exactly once. A database whose schema is newer than
 * this postern is refused with a clear message. Never edit a released
 * migration: append a new one.
 *
 * The schema follows the SQLite one (lib/store/sqlite/migrations.ts) with
 * PostgreSQL types, `user_name` for the reserved word `user`, and recordings
 * in the database (chunked), since several auth servers share them.
 *
 * @module
 */

import { Conflict } from "../../errors.ts";
import type { Sql } from "./db.ts";

/** One schema change. */
export interface PgMigration {
  /** 1, 2, 3... in order, no gaps. */
  version: number;
  /** What it does, for humans reading schema_version. */
  description: string;
  /** SQL statements, run in one transaction. */
  up: string;
}

/** The schema, oldest first. */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    description: "initial schema",
    up: `
      CREATE TABLE cas (
        kind TEXT PRIMARY KEY CHECK (kind IN ('user', 'host', 'tls')),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created BIGINT NOT NULL
      );
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        roles JSONB NOT NULL,
        logins JSONB NOT NULL,
        password_hash TEXT,
        totp_secret TEXT,
        totp_confirmed BOOLEAN NOT NULL DEFAULT false,
        pending_totp_secret TEXT,
        pending_totp_expires BIGINT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until BIGINT,
        last_totp_step BIGINT NOT NULL DEFAULT 0,
        admin_lock_until BIGINT,
        admin_lock_reason TEXT,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
      );
      CREATE TABLE login_attempts (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        failures_before INTEGER NOT NULL,
        expires BIGINT NOT NULL
      );
      CREATE INDEX login_attempts_user ON login_attempts (user_name);
      CREATE TABLE invites (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('signup', 'reset')),
        expires BIGINT NOT NULL,
        used_at BIGINT,
        created BIGINT NOT NULL
      );
      CREATE INDEX invites_user ON invites (user_name);
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        addr TEXT NOT NULL,
        labels JSONB NOT NULL,
        host_key TEXT,
        require_host_cert BOOLEAN NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('cli', 'config')),
        created BIGINT NOT NULL
      );
      CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        csrf_token_hash TEXT NOT NULL,
        private_key TEXT NOT NULL,
        cert TEXT NOT NULL,
        created BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        expires_idle BIGINT NOT NULL,
        expires_abs BIGINT NOT NULL
      );
      CREATE INDEX web_sessions_user ON web_sessions (user_name);
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        login TEXT NOT NULL,
        node TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('ssh', 'web')),
        started BIGINT NOT NULL,
        ended BIGINT,
        exit_code INTEGER,
        term_cols INTEGER NOT NULL,
        term_rows INTEGER NOT NULL,
        recording_path TEXT NOT NULL,
        proxy_id TEXT,
        heartbeat BIGINT,
        parties JSONB NOT NULL DEFAULT '[]'
      );
      CREATE INDEX sessions_started ON sessions (started);
      CREATE INDEX sessions_user_started ON sessions (user_name, started);
      CREATE INDEX sessions_live ON sessions (ended, heartbeat);
      CREATE TABLE recordings (
        session_id TEXT PRIMARY KEY,
        size BIGINT NOT NULL
      );
      CREATE TABLE recording_chunks (
        session_id TEXT NOT NULL REFERENCES recordings (session_id) ON DELETE CASCADE,
        byte_offset BIGINT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (session_id, byte_offset)
      );
      CREATE TABLE audit_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time BIGINT NOT NULL,
        code TEXT NOT NULL,
        user_name TEXT,
        remote_addr TEXT,
        success BOOLEAN NOT NULL,
        fields JSONB NOT NULL
      );
      CREATE INDEX audit_events_time ON audit_events (time);
      CREATE INDEX audit_events_user_time ON audit_events (user_name, time);
      CREATE TABLE revocations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_name TEXT NOT NULL,
        web_session_hash TEXT,
        session_id TEXT,
        reason TEXT NOT NULL,
        created BIGINT NOT NULL
      );
      CREATE INDEX revocations_created ON revocations (created);
      CREATE TABLE proxies (
        id TEXT PRIMARY KEY,
        public_addr TEXT NOT NULL,
        ssh_public_addr TEXT NOT NULL,
        peer_addr TEXT,
        last_seen BIGINT NOT NULL
      );
      CREATE TABLE join_tokens (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('proxy', 'admin')),
        created BIGINT NOT NULL,
        expires BIGINT NOT NULL
      );
      CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        spec JSONB NOT NULL,
        updated BIGINT NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: "nonces of signed CLI requests, shared by every proxy",
    up: `
      CREATE TABLE request_nonces (
        nonce TEXT PRIMARY KEY,
        expires BIGINT NOT NULL
      );
      CREATE INDEX request_nonces_expires ON request_nonces (expires);
    `,
  },
  {
    version: 3,
    description: "auth servers report themselves",
    up: `
      CREATE TABLE auth_servers (
        id TEXT PRIMARY KEY,
        addr TEXT NOT NULL,
        version TEXT NOT NULL,
        started BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "security keys and passkeys (WebAuthn) and their pending challenges",
    up: `
      CREATE TABLE webauthn_credentials (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        counter BIGINT NOT NULL,
        transports JSONB NOT NULL,
        discoverable BOOLEAN NOT NULL,
        created BIGINT NOT NULL,
        last_used BIGINT
      );
      CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_name);
      CREATE TABLE webauthn_challenges (
        challenge TEXT PRIMARY KEY,
        user_name TEXT,
        purpose TEXT NOT NULL CHECK (purpose IN ('register', 'login', 'passwordless')),
        expires BIGINT NOT NULL
      );
      CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires);
    `,
  },
  {
    version: 5,
    description: "single sign-on: the connector a user signs in through, and logins in progress",
    up: `
      ALTER TABLE users ADD COLUMN connector TEXT;
      CREATE TABLE sso_requests (
        state_hash TEXT PRIMARY KEY,
        connector TEXT NOT NULL,
        nonce TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        expires BIGINT NOT NULL
      );
      CREATE INDEX sso_requests_expires ON sso_requests (expires);
    `,
  },
  {
    version: 6,
    description: "command-line logins waiting for approval in a browser",
    up: `
      CREATE TABLE cli_logins (
        id_hash TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        public_key TEXT NOT NULL,
        ttl_ms BIGINT,
        remote_addr TEXT NOT NULL,
        created BIGINT NOT NULL,
        expires BIGINT NOT NULL,
        user_name TEXT REFERENCES users (name) ON DELETE CASCADE,
        cert TEXT
      );
      CREATE INDEX cli_logins_expires ON cli_logins (expires);
    `,
  },
  {
    version: 7,
    description: "when each user last gave a per-session second factor",
    up: `ALTER TABLE users ADD COLUMN session_mfa_at BIGINT;`,
  },
  {
    version: 8,
    description: "the text of recordings, indexed for search (tsvector)",
    up: `
      CREATE TABLE recording_text (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id TEXT NOT NULL,
        stream TEXT NOT NULL CHECK (stream IN ('o', 'i')),
        times JSONB NOT NULL,
        body TEXT NOT NULL,
        words TSVECTOR NOT NULL
      );
      CREATE INDEX recording_text_words ON recording_text USING GIN (words);
      CREATE INDEX recording_text_session ON recording_text (session_id);
      CREATE TABLE recording_index (
        session_id TEXT PRIMARY KEY,
        indexed_bytes BIGINT NOT NULL
      );
    `,
  },
];

/** The advisory lock key migrations hold: "postern" in ASCII. */
const MIGRATION_LOCK = 0x706f737465726e;

/**
 * Brings the database up to the last migration, each in its own transaction
 * under the advisory lock.
 *
 * @returns the schema version after migrating
 * @throws Conflict when the database was written by a newer postern
 */
export async function migratePostgres(
  sql: Sql,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
): Promise<number> {
  const latest = migrations.at(-1)?.version ?? 0;
  return await sql.begin(async (tx) => {
    // Held until this transaction ends: a second auth server waits here, then
    // finds the schema up to date.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (
      version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied BIGINT NOT NULL)`;
    const [{ v }] = await tx`SELECT coalesce(max(version), 0)::int AS v FROM schema_version`;
    const found = Number(v);
    if (found > latest) {
      throw new Conflict(
        `Cannot open the store: the database's schema version ${found} is newer than this postern knows (${latest}); upgrade postern`,
      );
    }
    for (const m of migrations) {
      if (m.version <= found) continue;
      await tx.unsafe(m.up);
      await tx`INSERT INTO schema_version (version, description, applied)
               VALUES (${m.version}, ${m.description}, ${Date.now()})`;
    }
    return Math.max(found, latest);
  }) as number;
}
