/**
 * The SQLite schema as an ordered list of migrations. A database records the
 * versions it has in `schema_version`; opening it applies the missing ones,
 * each in its own write transaction, so two processes opening one file at
 * once apply each migration exactly once. Never edit a released migration:
 * append a new one.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { Conflict } from "../../errors.ts";

/** One schema change. */
export interface Migration {
  /** 1, 2, 3... in order, no gaps. */
  version: number;
  /** What it does, for humans reading schema_version. */
  description: string;
  /** SQL run with `exec`, or a function for changes SQL cannot express alone. */
  up: string | ((db: DatabaseSync) => void);
}

/** The schema of postern.db, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "initial schema",
    up: `
      CREATE TABLE cas (
        kind TEXT PRIMARY KEY CHECK (kind IN ('user', 'host')),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created INTEGER NOT NULL
      );
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        roles TEXT NOT NULL,
        logins TEXT NOT NULL,
        password_hash TEXT,
        totp_secret TEXT,
        totp_confirmed INTEGER NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER,
        last_totp_step INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
      );
      CREATE TABLE invites (
        token_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('signup', 'reset')),
        expires INTEGER NOT NULL,
        used_at INTEGER,
        created INTEGER NOT NULL
      );
      CREATE INDEX invites_user ON invites (user);
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        addr TEXT NOT NULL,
        labels TEXT NOT NULL,
        host_key TEXT,
        require_host_cert INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('cli', 'config')),
        created INTEGER NOT NULL
      );
      CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        csrf_token_hash TEXT NOT NULL,
        private_key TEXT NOT NULL,
        cert TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        expires_idle INTEGER NOT NULL,
        expires_abs INTEGER NOT NULL
      );
      CREATE INDEX web_sessions_user ON web_sessions (user);
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        login TEXT NOT NULL,
        node TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('ssh', 'web')),
        started INTEGER NOT NULL,
        ended INTEGER,
        exit_code INTEGER,
        term_cols INTEGER NOT NULL,
        term_rows INTEGER NOT NULL,
        recording_path TEXT NOT NULL
      );
      CREATE INDEX sessions_started ON sessions (started);
      CREATE INDEX sessions_user_started ON sessions (user, started);
      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        code TEXT NOT NULL,
        user TEXT,
        remote_addr TEXT,
        success INTEGER NOT NULL,
        fields TEXT NOT NULL
      );
      CREATE INDEX audit_events_time ON audit_events (time);
      CREATE INDEX audit_events_user_time ON audit_events (user, time);
    `,
  },
  {
    version: 2,
    description: "administrator locks and the revocation feed proxies watch",
    up: `
      ALTER TABLE users ADD COLUMN admin_lock_until INTEGER;
      ALTER TABLE users ADD COLUMN admin_lock_reason TEXT;
      CREATE TABLE revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        web_session_hash TEXT,
        reason TEXT NOT NULL,
        created INTEGER NOT NULL
      );
      CREATE INDEX revocations_created ON revocations (created);
    `,
  },
  {
    version: 3,
    description: "proxies register the addresses users reach them at",
    up: `
      CREATE TABLE proxies (
        id TEXT PRIMARY KEY,
        public_addr TEXT NOT NULL,
        ssh_public_addr TEXT NOT NULL,
        last_seen INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    description: "the cluster TLS CA of the Auth API, and join tokens for proxies and admins",
    up: `
      CREATE TABLE cas_new (
        kind TEXT PRIMARY KEY CHECK (kind IN ('user', 'host', 'tls')),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created INTEGER NOT NULL
      );
      INSERT INTO cas_new SELECT * FROM cas;
      DROP TABLE cas;
      ALTER TABLE cas_new RENAME TO cas;
      CREATE TABLE join_tokens (
        token_hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('proxy', 'admin')),
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    description:
      "live-session trackers (owning proxy, heartbeat, parties) and session-scoped revocations",
    up: `
      ALTER TABLE sessions ADD COLUMN proxy_id TEXT;
      ALTER TABLE sessions ADD COLUMN heartbeat INTEGER;
      ALTER TABLE sessions ADD COLUMN parties TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX sessions_live ON sessions (ended, heartbeat);
      ALTER TABLE revocations ADD COLUMN session_id TEXT;
      ALTER TABLE proxies ADD COLUMN peer_addr TEXT;
    `,
  },
  {
    version: 6,
    description: "login attempts reserved before their password is checked",
    up: `
      CREATE TABLE login_attempts (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        failures_before INTEGER NOT NULL,
        expires INTEGER NOT NULL
      );
      CREATE INDEX login_attempts_user ON login_attempts (user);
    `,
  },
  {
    version: 7,
    description: "the role table, reconciled by the auth server from its config",
    up: `
      CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        updated INTEGER NOT NULL
      );
    `,
  },
  {
    version: 8,
    description: "an authenticator change waits in the store for its confirming code",
    up: `
      ALTER TABLE users ADD COLUMN pending_totp_secret TEXT;
      ALTER TABLE users ADD COLUMN pending_totp_expires INTEGER;
    `,
  },
  {
    version: 9,
    description: "nonces of signed CLI requests, shared by every proxy",
    up: `
      CREATE TABLE request_nonces (
        nonce TEXT PRIMARY KEY,
        expires INTEGER NOT NULL
      );
      CREATE INDEX request_nonces_expires ON request_nonces (expires);
    `,
  },
  {
    version: 10,
    description: "auth servers report themselves (several may share a store)",
    up: `
      CREATE TABLE auth_servers (
        id TEXT PRIMARY KEY,
        addr TEXT NOT NULL,
        version TEXT NOT NULL,
        started INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      );
    `,
  },
  {
    version: 11,
    description: "security keys and passkeys (WebAuthn) and their pending challenges",
    up: `
      CREATE TABLE webauthn_credentials (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        public_key TEXT NOT NULL,
        counter INTEGER NOT NULL,
        transports TEXT NOT NULL,
        discoverable INTEGER NOT NULL,
        created INTEGER NOT NULL,
        last_used INTEGER
      );
      CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user);
      CREATE TABLE webauthn_challenges (
        challenge TEXT PRIMARY KEY,
        user TEXT,
        purpose TEXT NOT NULL CHECK (purpose IN ('register', 'login', 'passwordless')),
        expires INTEGER NOT NULL
      );
      CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires);
    `,
  },
  {
    version: 12,
    description: "single sign-on: the connector a user signs in through, and logins in progress",
    up: `
      ALTER TABLE users ADD COLUMN connector TEXT;
      CREATE TABLE sso_requests (
        state_hash TEXT PRIMARY KEY,
        connector TEXT NOT NULL,
        nonce TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        expires INTEGER NOT NULL
      );
      CREATE INDEX sso_requests_expires ON sso_requests (expires);
    `,
  },
  {
    version: 13,
    description: "command-line logins waiting for approval in a browser",
    up: `
      CREATE TABLE cli_logins (
        id_hash TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        public_key TEXT NOT NULL,
        ttl_ms INTEGER,
        remote_addr TEXT NOT NULL,
        created INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        user TEXT REFERENCES users (name) ON DELETE CASCADE,
        cert TEXT
      );
      CREATE INDEX cli_logins_expires ON cli_logins (expires);
    `,
  },
  {
    version: 14,
    description: "when each user last gave a per-session second factor",
    up: `ALTER TABLE users ADD COLUMN session_mfa_at INTEGER;`,
  },
  {
    version: 15,
    description: "the text of recordings, indexed for search (FTS5)",
    up: `
      CREATE VIRTUAL TABLE recording_text USING fts5(
        text,
        session_id UNINDEXED,
        stream UNINDEXED,
        times UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 0',
        prefix = '3'
      );
      CREATE TABLE recording_index (
        session_id TEXT PRIMARY KEY,
        indexed_bytes INTEGER NOT NULL
      );
    `,
  },
];

function currentVersion(db: DatabaseSync): number {
  const row = db.prepare("SELECT max(version) AS v FROM schema_version").get();
  return Number(row?.v ?? 0);
}

/**
 * Brings the database up to the last migration.
 *
 * @param db an open connection with busy_timeout set
 * @param migrations the schema; tests pass their own
 * @returns the schema version after migrating
 * @throws Conflict when the file was written by a newer postern
 */
export function migrate(db: DatabaseSync, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied INTEGER NOT NULL)",
  );
  const latest = migrations.at(-1)?.version ?? 0;
  const found = currentVersion(db);
  if (found > latest) {
    throw new Conflict(
      `Cannot open the store: its schema version ${found} is newer than this postern knows (${latest}); upgrade postern`,
    );
  }
  for (const m of migrations) {
    if (m.version <= found) continue;
    // IMMEDIATE takes the write lock before re-reading the version, so a second
    // process opening the file at the same moment waits and then skips.
    db.exec("BEGIN IMMEDIATE");
    try {
      if (currentVersion(db) < m.version) {
        if (typeof m.up === "string") db.exec(m.up);
        else m.up(db);
        db.prepare("INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)")
          .run(m.version, m.description, Date.now());
      }
      db.exec("COMMIT");
    } catch (e) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw e;
    }
  }
  return currentVersion(db);
}
