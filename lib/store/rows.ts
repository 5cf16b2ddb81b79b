/**
 * Reading database rows into store records, once for the SQLite and
 * PostgreSQL backends: typed column readers, and a reader per table
 * ({@link rowReaders}). The tables have the same columns on both but for
 * what each backend's {@link Dialect} says: the name of the user column,
 * booleans and JSON.
 *
 * @module
 */

import type {
  AuditEvent,
  AuthServerRecord,
  CaKind,
  CaRecord,
  CliLoginRecord,
  InviteRecord,
  JoinTokenKind,
  JoinTokenRecord,
  NodeRecord,
  ProxyRecord,
  RecordingStream,
  RecordingTextMatch,
  Revocation,
  RoleRecord,
  SecretHash,
  SessionParty,
  SessionRecord,
  SsoRequestRecord,
  UserRecord,
  WebAuthnChallengeRecord,
  WebAuthnCredentialRecord,
  WebAuthnPurpose,
  WebSessionRecord,
} from "./store.ts";

/** A row as a driver returns it, by column name. */
export type Row = Record<string, unknown>;

/** A string column. */
export function str(v: unknown): string {
  if (typeof v !== "string") throw new TypeError(`Expected a text column, got ${typeof v}`);
  return v;
}

/** A nullable string column. */
export function optStr(v: unknown): string | null {
  return v === null ? null : str(v);
}

/** An integer column (node:sqlite may return a bigint). */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new TypeError(`Expected an integer column, got ${typeof v}`);
}

/** A nullable integer column. */
export function optNum(v: unknown): number | null {
  return v === null ? null : num(v);
}

/** How one backend's columns differ from the other's. */
export interface Dialect {
  /** The column naming a user (`user_name` where `user` is a reserved word). */
  readonly userColumn: "user" | "user_name";
  /** A boolean column. */
  bool(v: unknown): boolean;
  /** A JSON column. */
  json<T>(v: unknown): T;
}

/**
 * A reader for each table's rows, into the record the store hands out.
 *
 * @param d how the backend's columns differ
 * @returns the readers, by record
 * @example
 * ```ts
 * const rows = rowReaders(SQLITE_DIALECT);
 * const users = db.all("SELECT * FROM users ORDER BY name").map(rows.user);
 * ```
 */
export function rowReaders(d: Dialect) {
  const user = (r: Row) => str(r[d.userColumn]);
  const optUser = (r: Row) => optStr(r[d.userColumn]);
  return {
    /** A `cas` row. */
    ca: (r: Row): CaRecord => ({
      kind: str(r.kind) as CaKind,
      privateKey: str(r.private_key),
      publicKey: str(r.public_key),
      created: num(r.created),
    }),

    /** A `users` row. */
    user: (r: Row): UserRecord => ({
      name: str(r.name),
      roles: d.json<string[]>(r.roles),
      logins: d.json<string[]>(r.logins),
      passwordHash: optStr(r.password_hash),
      totpSecret: optStr(r.totp_secret),
      totpConfirmed: d.bool(r.totp_confirmed),
      failedLogins: num(r.failed_logins),
      lockedUntil: optNum(r.locked_until),
      lastTotpStep: num(r.last_totp_step),
      adminLockUntil: optNum(r.admin_lock_until),
      adminLockReason: optStr(r.admin_lock_reason),
      pendingTotp: r.pending_totp_secret === null
        ? null
        : { secret: str(r.pending_totp_secret), expires: num(r.pending_totp_expires) },
      connector: optStr(r.connector),
      sessionMfaAt: optNum(r.session_mfa_at),
      created: num(r.created),
      updated: num(r.updated),
    }),

    /** An `invites` row. */
    invite: (r: Row): InviteRecord => ({
      tokenHash: str(r.token_hash) as SecretHash,
      user: user(r),
      kind: str(r.kind) as InviteRecord["kind"],
      expires: num(r.expires),
      usedAt: optNum(r.used_at),
      created: num(r.created),
    }),

    /** A `nodes` row. */
    node: (r: Row): NodeRecord => ({
      name: str(r.name),
      addr: str(r.addr),
      labels: d.json<Record<string, string>>(r.labels),
      hostKey: optStr(r.host_key),
      requireHostCert: d.bool(r.require_host_cert),
      source: str(r.source) as NodeRecord["source"],
      created: num(r.created),
    }),

    /** A `web_sessions` row. */
    webSession: (r: Row): WebSessionRecord => ({
      idHash: str(r.id_hash) as SecretHash,
      user: user(r),
      csrfTokenHash: str(r.csrf_token_hash) as SecretHash,
      privateKey: str(r.private_key),
      cert: str(r.cert),
      created: num(r.created),
      lastSeen: num(r.last_seen),
      expiresIdle: num(r.expires_idle),
      expiresAbs: num(r.expires_abs),
    }),

    /** A `sessions` row. */
    session: (r: Row): SessionRecord => ({
      id: str(r.id),
      user: user(r),
      login: str(r.login),
      node: str(r.node),
      kind: str(r.kind) as SessionRecord["kind"],
      started: num(r.started),
      ended: optNum(r.ended),
      exitCode: optNum(r.exit_code),
      cols: num(r.term_cols),
      rows: num(r.term_rows),
      recordingPath: str(r.recording_path),
      proxyId: optStr(r.proxy_id),
      heartbeat: optNum(r.heartbeat),
      parties: d.json<SessionParty[]>(r.parties),
    }),

    /** An `audit_events` row. */
    auditEvent: (r: Row): AuditEvent => ({
      id: num(r.id),
      time: num(r.time),
      code: str(r.code),
      user: optUser(r),
      remoteAddr: optStr(r.remote_addr),
      success: d.bool(r.success),
      fields: d.json<Record<string, unknown>>(r.fields),
    }),

    /** A `revocations` row. */
    revocation: (r: Row): Revocation => ({
      id: num(r.id),
      user: user(r),
      webSessionHash: optStr(r.web_session_hash) as SecretHash | null,
      sessionId: optStr(r.session_id),
      reason: str(r.reason),
      created: num(r.created),
    }),

    /** A `proxies` row. */
    proxy: (r: Row): ProxyRecord => ({
      id: str(r.id),
      publicAddr: str(r.public_addr),
      sshPublicAddr: str(r.ssh_public_addr),
      peerAddr: optStr(r.peer_addr),
      lastSeen: num(r.last_seen),
    }),

    /** A `roles` row. */
    role: (r: Row): RoleRecord => ({
      name: str(r.name),
      spec: d.json<Record<string, unknown>>(r.spec),
      updated: num(r.updated),
    }),

    /** A `join_tokens` row. */
    joinToken: (r: Row): JoinTokenRecord => ({
      tokenHash: str(r.token_hash) as SecretHash,
      kind: str(r.kind) as JoinTokenKind,
      created: num(r.created),
      expires: num(r.expires),
    }),

    /** An `auth_servers` row. */
    authServer: (r: Row): AuthServerRecord => ({
      id: str(r.id),
      addr: str(r.addr),
      version: str(r.version),
      started: num(r.started),
      lastSeen: num(r.last_seen),
    }),

    /** A `webauthn_credentials` row. */
    credential: (r: Row): WebAuthnCredentialRecord => ({
      id: str(r.id),
      user: user(r),
      name: str(r.name),
      publicKey: str(r.public_key),
      counter: num(r.counter),
      transports: d.json<string[]>(r.transports),
      discoverable: d.bool(r.discoverable),
      created: num(r.created),
      lastUsed: optNum(r.last_used),
    }),

    /** A `webauthn_challenges` row. */
    challenge: (r: Row): WebAuthnChallengeRecord => ({
      challenge: str(r.challenge),
      user: optUser(r),
      purpose: str(r.purpose) as WebAuthnPurpose,
      expires: num(r.expires),
    }),

    /** An `sso_requests` row. */
    ssoRequest: (r: Row): SsoRequestRecord => ({
      stateHash: str(r.state_hash) as SecretHash,
      connector: str(r.connector),
      nonce: str(r.nonce),
      codeVerifier: str(r.code_verifier),
      redirectUri: str(r.redirect_uri),
      expires: num(r.expires),
    }),

    /** A `cli_logins` row. */
    cliLogin: (r: Row): CliLoginRecord => ({
      idHash: str(r.id_hash) as SecretHash,
      code: str(r.code),
      publicKey: str(r.public_key),
      ttlMs: optNum(r.ttl_ms),
      remoteAddr: str(r.remote_addr),
      created: num(r.created),
      expires: num(r.expires),
      user: optUser(r),
      cert: optStr(r.cert),
    }),

    /** A `recording_text` row found by a search (`session_id`, `stream`, `times`, `text`). */
    recordingText: (r: Row): RecordingTextMatch => ({
      sessionId: str(r.session_id),
      stream: str(r.stream) as RecordingStream,
      times: d.json<number[]>(r.times),
      text: str(r.text),
    }),
  };
}
