/**
 * The state of the auth role, behind an interface that says nothing about the
 * database: plain typed records in and out, no SQL. `SqliteStore`
 * (./sqlite.ts) is the embedded implementation; another backend (Postgres)
 * implements the same interface.
 *
 * Conventions every backend follows:
 * - Times are epoch milliseconds (`number`), everywhere.
 * - Lookups of one thing return `null` when it does not exist (an expected
 *   condition); changes to a thing that does not exist throw `NotFound`;
 *   creating a thing that exists throws `Conflict`; a database that cannot be
 *   reached or stays locked throws `Unavailable`.
 * - Bearer secrets (invite tokens, web session ids, CSRF tokens) are stored only
 *   as SHA-256 hashes. The `SecretHash` type is made only by {@link hashSecret},
 *   so the compiler refuses a raw token where a hash is expected.
 * - Deleting a user deletes their invites, web sessions and security keys;
 *   recorded sessions and audit events are history and stay.
 *
 * @module
 */

import { createHash } from "node:crypto";

declare const secretHashBrand: unique symbol;

/** Hex SHA-256 of a bearer secret; the only form in which such secrets are stored. */
export type SecretHash = string & { readonly [secretHashBrand]: true };

/**
 * Hashes a bearer secret (invite token, session id, CSRF token) for storage
 * and lookup.
 *
 * @param secret the raw secret as handed to the user
 * @returns its SHA-256, hex encoded
 * @example
 * ```ts
 * const invite = await store.invites.get(hashSecret(tokenFromUrl));
 * ```
 */
export function hashSecret(secret: string): SecretHash {
  return createHash("sha256").update(secret, "utf8").digest("hex") as SecretHash;
}

/**
 * Which certificate authority: the SSH CAs that sign user and host
 * certificates, or the cluster's X.509 CA behind the Auth API's mutual TLS.
 */
export type CaKind = "user" | "host" | "tls";

/** A certificate authority key pair. */
export interface CaRecord {
  kind: CaKind;
  /** Private key, OpenSSH PEM or PKCS8 string. Never logged or returned by an API. */
  privateKey: string;
  /** Public key as one authorized_keys line ("ssh-ed25519 AAAA... comment"); the PEM certificate for "tls". */
  publicKey: string;
  created: number;
}

/** A postern user. */
export interface UserRecord {
  name: string;
  /** Role names; resolved against the role table by lib/auth/roles.ts. */
  roles: string[];
  /** The user's own OS logins, substituted for `{{internal.logins}}` in roles. */
  logins: string[];
  /** `scrypt$N$r$p$salt$hash` (lib/auth/password.ts); null until the user signs up. */
  passwordHash: string | null;
  /** Base32 TOTP secret; null until enrolment starts. */
  totpSecret: string | null;
  /** True once the user has proved the secret with a valid code. */
  totpConfirmed: boolean;
  /** Consecutive failed logins since the last success or lock expiry. */
  failedLogins: number;
  /** Locked until this time (epoch ms) after too many failures; null when not locked. */
  lockedUntil: number | null;
  /** Last accepted TOTP time step; codes for this step or earlier are replays. 0 = none yet. */
  lastTotpStep: number;
  /**
   * Locked by an administrator (`postern users lock`) until this time (epoch
   * ms); unlike a lockout after failed logins, it also refuses certificates
   * already issued. Null when not locked.
   */
  adminLockUntil: number | null;
  /** Why the administrator locked the user; shown to them. */
  adminLockReason: string | null;
  /** A new TOTP secret the user is setting up, until they confirm it with a code. */
  pendingTotp: PendingTotp | null;
  /**
   * The single sign-on connector the user signs in through (their roles and
   * logins come from it at each sign-in); null for a local user (password).
   */
  connector: string | null;
  /** The last per-session second factor (roles with `require_session_mfa`); null before any. */
  sessionMfaAt: number | null;
  created: number;
  updated: number;
}

/** A TOTP secret being set up (re-enrolment), valid until `expires`. */
export interface PendingTotp {
  secret: string;
  expires: number;
}

/** The fields a caller sets when creating a user; counters start at zero. */
export interface NewUser {
  name: string;
  roles: string[];
  logins: string[];
  passwordHash?: string | null;
  totpSecret?: string | null;
  totpConfirmed?: boolean;
  /** The single sign-on connector of a user created at their first sign-in through it. */
  connector?: string | null;
  created: number;
}

/** Fields of a user that `users.update` may change. */
export type UserPatch = Partial<
  Pick<UserRecord, "roles" | "logins" | "passwordHash" | "totpSecret" | "totpConfirmed">
>;

/** The login-failure state after `users.recordLoginFailure`. */
export interface LoginFailureState {
  failedLogins: number;
  /** Set (epoch ms) when this failure reached the limit or the user was already locked. */
  lockedUntil: number | null;
}

/** What an invite lets its holder do. */
export type InviteKind = "signup" | "reset";

/** A single-use invite (signup or password reset) for an existing user. */
export interface InviteRecord {
  tokenHash: SecretHash;
  user: string;
  kind: InviteKind;
  expires: number;
  /** When the invite was consumed; null while unused. */
  usedAt: number | null;
  created: number;
}

/** Why `invites.consume` refused. */
export type InviteRefusal = "not_found" | "used" | "expired";

/** Result of `invites.consume`: the consumed invite, or why it could not be used. */
export type ConsumeInviteResult =
  | { ok: true; invite: InviteRecord }
  | { ok: false; reason: InviteRefusal };

/** Where a node's registration came from: `postern nodes add` or the config file. */
export type NodeSource = "cli" | "config";

/** A registered SSH node. */
export interface NodeRecord {
  name: string;
  /** "host:port" to dial. */
  addr: string;
  labels: Record<string, string>;
  /** Pinned host key as an authorized_keys line; null when not pinned. */
  hostKey: string | null;
  /** Refuse the node unless it presents a host certificate signed by the host CA. */
  requireHostCert: boolean;
  source: NodeSource;
  created: number;
}

/** Fields of a node that `nodes.update` may change. */
export type NodePatch = Partial<
  Pick<NodeRecord, "addr" | "labels" | "hostKey" | "requireHostCert" | "source">
>;

/** A browser session. */
export interface WebSessionRecord {
  idHash: SecretHash;
  user: string;
  csrfTokenHash: SecretHash;
  /** The web-session private key (PKCS8 or OpenSSH string); it never leaves auth. */
  privateKey: string;
  /** The OpenSSH certificate line for that key. */
  cert: string;
  created: number;
  lastSeen: number;
  /** Expires at this time unless touched before (sliding). */
  expiresIdle: number;
  /** Expires at this time whatever happens. */
  expiresAbs: number;
}

/** How a recorded session was started. */
export type SessionKind = "ssh" | "web";

/** Metadata of a recorded, proxy-terminated SSH session. */
export interface SessionRecord {
  id: string;
  user: string;
  login: string;
  node: string;
  kind: SessionKind;
  started: number;
  /** Null while the session is running. */
  ended: number | null;
  exitCode: number | null;
  cols: number;
  rows: number;
  /** Path of the asciicast recording, relative to the data dir or absolute. */
  recordingPath: string;
  /** The proxy that runs the session (null for sessions recorded before trackers). */
  proxyId: string | null;
  /** When the owning proxy last said the session is live. */
  heartbeat: number | null;
  /** Who is in the session, as of the last heartbeat. */
  parties: SessionParty[];
}

/** A party of a live session, as trackers list it. */
export interface SessionParty {
  user: string;
  mode: "owner" | "observer" | "peer";
}

/** Fields set when a session starts. */
export type NewSession = Omit<SessionRecord, "ended" | "exitCode" | "heartbeat" | "parties">;

/** Filters for `sessions.list`; newest first. */
export interface SessionFilter {
  user?: string;
  node?: string;
  login?: string;
  /** Sessions started at or after this time. */
  since?: number;
  /** Sessions started before this time. */
  until?: number;
  /** Only sessions that have not ended. */
  activeOnly?: boolean;
  /** @default 100 (at most 10000) */
  limit?: number;
  /** How many matching sessions to skip, for pages after the first. @default 0 */
  offset?: number;
}

/** One audit event. Fields must never contain secrets. */
export interface AuditEvent {
  id: number;
  time: number;
  /** Dotted event code, e.g. "user.login", "session.start". */
  code: string;
  /** The acting user; null when unknown (e.g. login as a user that does not exist). */
  user: string | null;
  remoteAddr: string | null;
  success: boolean;
  fields: Record<string, unknown>;
}

/** An audit event before it is stored (the store assigns the id). */
export type NewAuditEvent = Omit<AuditEvent, "id">;

/** Filters for `audit.query`. */
export interface AuditQuery {
  /** Events at or after this time. */
  since?: number;
  /** Events before this time. */
  until?: number;
  /** Code prefix: "user." matches "user.login"; "user.login" matches exactly that family. */
  codePrefix?: string;
  user?: string;
  /** Only events that succeeded (true) or failed (false). */
  success?: boolean;
  /** @default 1000 (at most 10000) */
  limit?: number;
  /** How many matching events to skip, for pages after the first. @default 0 */
  offset?: number;
  /** @default "asc" (oldest first) */
  order?: "asc" | "desc";
}

/** The two certificate authorities. */
export interface CaStore {
  /** The CA of this kind, or null before first launch created it. */
  get(kind: CaKind): Promise<CaRecord | null>;
  /**
   * Stores `ca` unless a CA of that kind exists, and returns the stored one.
   * When two processes start at once, both get the same winner.
   */
  putIfAbsent(ca: CaRecord): Promise<CaRecord>;
}

/** Users, their credentials and lockout state. */
export interface UserStore {
  /** @throws Conflict when the name is taken */
  create(user: NewUser): Promise<UserRecord>;
  get(name: string): Promise<UserRecord | null>;
  /** All users, by name. */
  list(): Promise<UserRecord[]>;
  /**
   * Changes the given fields. A new TOTP secret restarts replay protection
   * (`lastTotpStep` = 0): steps of the old secret say nothing about the new one.
   * @throws NotFound
   */
  update(name: string, patch: UserPatch, now: number): Promise<UserRecord>;
  /** Deletes the user with their invites and web sessions; false if there was none. */
  delete(name: string): Promise<boolean>;
  /**
   * Atomically reserves one login attempt before its password is checked, so
   * that concurrent attempts cannot exceed the limit: refused (null) while the
   * user is locked or their failures plus the attempts still being checked
   * reach `maxAttempts`. A reservation not settled by `expires` stops counting
   * (the process checking it died).
   *
   * @returns the attempt's id, to settle it with `recordLoginFailure` or
   *   `recordLoginSuccess`; null when refused
   * @throws NotFound
   */
  reserveLoginAttempt(
    name: string,
    now: number,
    maxAttempts: number,
    expires: number,
  ): Promise<string | null>;
  /**
   * Atomically counts one failed login (and settles its reserved `attempt`).
   * The count restarts after an expired lock; reaching `maxFailures` locks the
   * user until `now + lockMs`.
   * @throws NotFound
   */
  recordLoginFailure(
    name: string,
    now: number,
    maxFailures: number,
    lockMs: number,
    attempt?: string,
  ): Promise<LoginFailureState>;
  /**
   * Settles a successful attempt: clears the failures counted before it was
   * reserved, but not those of attempts that raced it, nor a lock they set.
   */
  recordLoginSuccess(name: string, attempt: string, now: number): Promise<void>;
  /** Clears the failure count and any lock (after a successful login or by an admin). */
  resetLoginFailures(name: string, now: number): Promise<void>;
  /**
   * Sets (`until` a time) or clears (`until` null) an administrator's lock.
   * @throws NotFound
   */
  setAdminLock(
    name: string,
    until: number | null,
    reason: string | null,
    now: number,
  ): Promise<void>;
  /**
   * Atomically records `step` as the last used TOTP step if it is later than the
   * stored one. False means a replay (or an unknown user): refuse the login.
   */
  useTotpStep(name: string, step: number): Promise<boolean>;
  /** Records a per-session second factor at `at`. @throws NotFound */
  markSessionMfa(name: string, at: number): Promise<void>;
  /**
   * Keeps (or, with null, forgets) the secret of an authenticator change until
   * the user confirms it, on whichever auth server they reach next.
   * @throws NotFound
   */
  setPendingTotp(name: string, pending: PendingTotp | null): Promise<void>;
}

/** Signup and reset invites. */
export interface InviteStore {
  /** @throws Conflict on a duplicate hash; NotFound when the user does not exist */
  create(invite: Omit<InviteRecord, "usedAt">): Promise<InviteRecord>;
  get(tokenHash: SecretHash): Promise<InviteRecord | null>;
  /** The user's invites, used or not, newest first. */
  listForUser(user: string): Promise<InviteRecord[]>;
  /** Marks the invite used if it is unused and unexpired; exactly one caller wins. */
  consume(tokenHash: SecretHash, now: number): Promise<ConsumeInviteResult>;
  /** Deletes all invites of a user; returns how many. */
  deleteForUser(user: string): Promise<number>;
}

/** Registered nodes. */
export interface NodeStore {
  /** @throws Conflict when the name is taken */
  create(node: NodeRecord): Promise<NodeRecord>;
  /** Creates or replaces (config sync); keeps the original `created`. */
  upsert(node: NodeRecord): Promise<NodeRecord>;
  get(name: string): Promise<NodeRecord | null>;
  /** All nodes, by name. */
  list(): Promise<NodeRecord[]>;
  /** @throws NotFound */
  update(name: string, patch: NodePatch): Promise<NodeRecord>;
  delete(name: string): Promise<boolean>;
}

/** Browser sessions. */
export interface WebSessionStore {
  /** @throws Conflict on a duplicate id; NotFound when the user does not exist */
  create(session: WebSessionRecord): Promise<WebSessionRecord>;
  /** The session as stored, expired or not. */
  get(idHash: SecretHash): Promise<WebSessionRecord | null>;
  /**
   * If the session exists and has expired neither way, sets `lastSeen = now`,
   * `expiresIdle = min(now + idleMs, expiresAbs)` and returns it; else null.
   */
  touch(idHash: SecretHash, now: number, idleMs: number): Promise<WebSessionRecord | null>;
  delete(idHash: SecretHash): Promise<boolean>;
  /** Logs the user out everywhere; returns how many sessions were deleted. */
  deleteForUser(user: string): Promise<number>;
  /** The user's sessions, newest first. */
  listForUser(user: string): Promise<WebSessionRecord[]>;
  /** Deletes sessions past either expiry; returns how many. */
  deleteExpired(now: number): Promise<number>;
}

/** Recorded SSH session metadata. */
export interface SessionStore {
  /** @throws Conflict on a duplicate id */
  create(session: NewSession): Promise<SessionRecord>;
  /** Sets the end time and exit code (null when the exit is unknown). @throws NotFound */
  end(id: string, ended: number, exitCode: number | null): Promise<SessionRecord>;
  /**
   * Ends the session only if it is still live: of several auth servers ending
   * a lost session at once, exactly one gets true (and audits the end).
   */
  endLive(id: string, ended: number, exitCode: number | null): Promise<boolean>;
  get(id: string): Promise<SessionRecord | null>;
  list(filter?: SessionFilter): Promise<SessionRecord[]>;
  /** The owning proxy says these sessions are live, with their parties now. */
  heartbeat(
    proxyId: string,
    live: { id: string; parties: SessionParty[] }[],
    now: number,
  ): Promise<void>;
  /** Live sessions whose last heartbeat (or start) is before `time`: their proxy is gone. */
  listStale(time: number): Promise<SessionRecord[]>;
}

/**
 * Session recordings (asciicast bytes), written as they grow. SQLite keeps
 * them as files beside the database; PostgreSQL in the database, so that
 * every auth server has them.
 */
export interface RecordingStore {
  /**
   * The recording's bytes from byte `from` (the start by default) to its end.
   * @throws NotFound, BadRequest for a malformed id
   */
  open(id: string, from?: number): Promise<ReadableStream<Uint8Array>>;
  /**
   * Writes `bytes` at `offset`: the part before the current end is skipped
   * (sent again), a gap is refused.
   *
   * @returns the recording's size afterwards
   * @throws Conflict when `offset` is past the end
   */
  append(id: string, offset: number, bytes: Uint8Array): Promise<number>;
  /** Where the recordings are files a proxy in this process may write directly; null when not files. */
  readonly localDir: string | null;
}

/** Which stream of a recording text came from: what the node wrote, or what users typed. */
export type RecordingStream = "o" | "i";

/** A few consecutive lines of one stream of a recording, as the search index keeps them. */
export interface RecordingText {
  stream: RecordingStream;
  /** The lines, joined by "\n"; escape sequences already removed. */
  text: string;
  /** When each line started, in seconds into the recording (one per line). */
  times: number[];
}

/** A piece of recorded text that matched a search. */
export interface RecordingTextMatch extends RecordingText {
  sessionId: string;
}

/** A search of the recordings' text. */
export interface RecordingTextQuery {
  /**
   * The words to find, in this order next to each other, the last one also
   * as the start of a longer word when it has {@link MIN_PREFIX} characters
   * or more; see {@link searchWords} for what a word is.
   */
  words: string[];
  /** Only recordings of this user. */
  user?: string;
  /** @default 50 (at most 1000) */
  limit?: number;
}

/**
 * The shortest last word of a search that also finds longer words starting
 * with it: shorter ones would each stand for too many words to be quick.
 */
export const MIN_PREFIX = 3;

/**
 * The words of `text` as the search index sees them: runs of letters and
 * digits, lower-cased. Both backends index and query exactly these.
 *
 * @example
 * ```ts
 * searchWords("cat /etc/Passwd"); // ["cat", "etc", "passwd"]
 * ```
 */
export function searchWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * The text of recordings, indexed for search as they are written. Each
 * recording's index covers its first `indexedBytes` bytes; it grows in
 * steps that start where the last one ended.
 */
export interface RecordingIndexStore {
  /** How many bytes of recording `id` the index covers (0 when none). */
  indexedBytes(id: string): Promise<number>;
  /**
   * Adds `texts`, read from bytes `from` to `to` of recording `id`, if the
   * index covers exactly `from` bytes of it now; else changes nothing (another
   * auth server got there first).
   *
   * @returns whether the texts were added
   */
  add(id: string, from: number, to: number, texts: RecordingText[]): Promise<boolean>;
  /** Texts that contain the query's words, the most recently indexed first. */
  search(query: RecordingTextQuery): Promise<RecordingTextMatch[]>;
}

/** The audit log. */
export interface AuditStore {
  append(event: NewAuditEvent): Promise<AuditEvent>;
  query(q?: AuditQuery): Promise<AuditEvent[]>;
}

/**
 * An access that ended before its credentials expired: every live connection
 * of `user` (or, with `webSessionHash`, of that web session only) must end.
 * Proxies follow these in order of `id`.
 */
export interface Revocation {
  id: number;
  user: string;
  webSessionHash: SecretHash | null;
  /** Set when only this live session ends (ended by an administrator). */
  sessionId: string | null;
  /** Shown to the user whose connection ends ("access revoked by an administrator"). */
  reason: string;
  created: number;
}

/** The revocation feed: appended by auth, followed by every proxy. */
export interface RevocationStore {
  add(revocation: Omit<Revocation, "id">): Promise<Revocation>;
  /** Revocations after `id`, oldest first. */
  since(id: number, limit?: number): Promise<Revocation[]>;
  /** The id of the newest revocation (0 when none): where a starting proxy begins following. */
  lastId(): Promise<number>;
  /** Deletes revocations created before `time` (no proxy still needs them). */
  deleteBefore(time: number): Promise<number>;
}

/** An auth server as it last reported itself (several share a PostgreSQL store). */
export interface AuthServerRecord {
  /** `<host>:<Auth API port>`: stable across restarts. */
  id: string;
  /** The Auth API's listen address. */
  addr: string;
  /** postern version it runs. */
  version: string;
  started: number;
  lastSeen: number;
}

/** The auth servers that use this store: each reports itself every few seconds. */
export interface AuthServerStore {
  /** Registers or refreshes an auth server. */
  beat(server: AuthServerRecord): Promise<void>;
  /** All auth servers, the most recently seen first. */
  list(): Promise<AuthServerRecord[]>;
}

/** Nonces of signed CLI requests (PosternCert), each usable once while its window lasts. */
export interface RequestNonceStore {
  /**
   * Records `nonce` as used until `expires`, forgetting those expired by `now`;
   * false when it is recorded already: exactly one of racing callers gets true.
   */
  use(nonce: string, expires: number, now: number): Promise<boolean>;
}

/** A proxy as it registered itself: where users reach it. */
export interface ProxyRecord {
  /** Stable per proxy (its data dir and listener). */
  id: string;
  /** `host:port` of its HTTPS listener as users reach it. */
  publicAddr: string;
  /** `host:port` of its SSH listener as users reach it. */
  sshPublicAddr: string;
  /** `host:port` other proxies reach its peer listener at (to join its sessions). */
  peerAddr: string | null;
  lastSeen: number;
}

/** The proxies that ever registered. */
export interface ProxyStore {
  /** Registers or refreshes a proxy. */
  upsert(proxy: ProxyRecord): Promise<void>;
  get(id: string): Promise<ProxyRecord | null>;
  /** All proxies, the most recently seen first. */
  list(): Promise<ProxyRecord[]>;
  /** Records that a proxy was heard from at `now`; false when it is not registered. */
  touch(id: string, now: number): Promise<boolean>;
  /** Forgets a proxy: its identity is refused from then on. */
  delete(id: string): Promise<boolean>;
}

/** A stored role: its name and its definition (the auth role's `Role`, as JSON). */
export interface RoleRecord {
  name: string;
  spec: Record<string, unknown>;
  updated: number;
}

/** The role table every auth server and admin command reads. */
export interface RoleStore {
  /** All roles, by name. */
  list(): Promise<RoleRecord[]>;
  /** Makes the table exactly `roles`. */
  replaceAll(roles: RoleRecord[]): Promise<void>;
}

/** What a join token lets its holder become. */
export type JoinTokenKind = "proxy" | "admin";

/** A one-time token a proxy (or an admin's machine) redeems for its identity. */
export interface JoinTokenRecord {
  tokenHash: SecretHash;
  kind: JoinTokenKind;
  created: number;
  expires: number;
}

/** Join tokens, stored hashed. */
export interface JoinTokenStore {
  create(token: JoinTokenRecord): Promise<void>;
  /** Deletes and returns the token if it is unexpired; exactly one caller wins. */
  consume(tokenHash: SecretHash, now: number): Promise<JoinTokenRecord | null>;
  /** Unexpired tokens, newest first. */
  list(now: number): Promise<JoinTokenRecord[]>;
  /** Deletes tokens whose hash starts with `prefix`; returns how many. */
  deleteByPrefix(prefix: string): Promise<number>;
}

/** A registered WebAuthn credential (security key or passkey) of a user. */
export interface WebAuthnCredentialRecord {
  /** The credential id, base64url, as the authenticator made it. */
  id: string;
  user: string;
  /** The name the user gave it ("YubiKey 5", "laptop"). */
  name: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The last signature counter seen; a later assertion must show a higher one (when non-zero). */
  counter: number;
  /** Transports the browser reported (usb, nfc, internal, ...), as hints for later logins. */
  transports: string[];
  /** Whether it is a discoverable credential (a passkey usable without a user name). */
  discoverable: boolean;
  created: number;
  /** When it last signed in; null before its first use. */
  lastUsed: number | null;
}

/** What a WebAuthn challenge was issued for. */
export type WebAuthnPurpose = "register" | "login" | "passwordless";

/** A WebAuthn challenge waiting for its one answer. */
export interface WebAuthnChallengeRecord {
  /** The challenge as sent to the browser, base64url. */
  challenge: string;
  /** The user it was issued to; null for a passwordless login (the passkey names the user). */
  user: string | null;
  purpose: WebAuthnPurpose;
  expires: number;
}

/** Security keys and passkeys, and the challenges of ceremonies in progress. */
export interface WebAuthnStore {
  /** @throws Conflict when the credential id is registered already; NotFound without the user */
  create(credential: WebAuthnCredentialRecord): Promise<WebAuthnCredentialRecord>;
  get(id: string): Promise<WebAuthnCredentialRecord | null>;
  /** The user's credentials, oldest first. */
  listForUser(user: string): Promise<WebAuthnCredentialRecord[]>;
  /** Deletes one of the user's credentials; false when the user has no such credential. */
  delete(user: string, id: string): Promise<boolean>;
  /** Deletes all of a user's credentials (reset); returns how many. */
  deleteForUser(user: string): Promise<number>;
  /**
   * Atomically records a sign-in with the credential: stores `counter` and
   * `now` as last use if `counter` is later than the stored one, or both are
   * zero (authenticators without a counter). False means a counter that did
   * not move forward: a cloned authenticator or a replay; refuse the login.
   */
  use(id: string, counter: number, now: number): Promise<boolean>;
  /** Stores a challenge, and drops those expired before `now`. */
  putChallenge(challenge: WebAuthnChallengeRecord, now: number): Promise<void>;
  /** Deletes and returns the challenge if it has not expired; exactly one caller gets it. */
  takeChallenge(challenge: string, now: number): Promise<WebAuthnChallengeRecord | null>;
}

/** A single sign-on login in progress: what the callback must match, kept until it comes. */
export interface SsoRequestRecord {
  /** Hash of the `state` sent to the identity provider (the browser holds it too). */
  stateHash: SecretHash;
  connector: string;
  /** The nonce the ID token must carry. */
  nonce: string;
  /** The PKCE code verifier (RFC 7636) the code is redeemed with. */
  codeVerifier: string;
  /** The callback the provider was given (the proxy the login started on). */
  redirectUri: string;
  expires: number;
}

/** Single sign-on logins in progress. */
export interface SsoRequestStore {
  /** Stores a login in progress, and drops those expired before `now`. */
  put(request: SsoRequestRecord, now: number): Promise<void>;
  /** Deletes and returns the login if it has not expired; exactly one caller gets it. */
  take(stateHash: SecretHash, now: number): Promise<SsoRequestRecord | null>;
}

/**
 * A command-line login waiting for its user to approve it in a browser: the
 * CLI polls with a secret, the user compares a short code and approves.
 */
export interface CliLoginRecord {
  /** Hash of the secret the CLI polls with. */
  idHash: SecretHash;
  /** The short code the CLI prints and the approval page shows ("KXQF-7RTM"). */
  code: string;
  /** The public key (authorized_keys line) to certify. */
  publicKey: string;
  /** The lifetime the CLI asked for; null for the roles' longest. */
  ttlMs: number | null;
  /** Where the CLI asked from, shown on the approval page. */
  remoteAddr: string;
  created: number;
  expires: number;
  /** Who approved it; null while pending. */
  user: string | null;
  /** The certificate line, once approved. */
  cert: string | null;
}

/** Command-line logins waiting for approval. */
export interface CliLoginStore {
  /** Stores a pending login, and drops those expired before `now`. @throws Conflict on a taken code */
  create(login: CliLoginRecord): Promise<void>;
  /** The pending, unexpired login with this code. */
  getPending(code: string, now: number): Promise<CliLoginRecord | null>;
  /** Sets the approver and certificate of a pending, unexpired login; false when there is none. */
  approve(code: string, user: string, cert: string, now: number): Promise<boolean>;
  /**
   * The login as the CLI sees it: an approved one is returned once and
   * deleted (the certificate is handed out once); a pending one as it is;
   * null when unknown or expired.
   */
  poll(idHash: SecretHash, now: number): Promise<CliLoginRecord | null>;
}

/** The tables of a store: everything auth keeps, without the transaction and connection around it. */
export interface StoreTables {
  readonly cas: CaStore;
  readonly users: UserStore;
  readonly invites: InviteStore;
  readonly nodes: NodeStore;
  readonly webSessions: WebSessionStore;
  readonly sessions: SessionStore;
  readonly audit: AuditStore;
  readonly revocations: RevocationStore;
  readonly proxies: ProxyStore;
  readonly joinTokens: JoinTokenStore;
  readonly roles: RoleStore;
  readonly webauthn: WebAuthnStore;
  readonly ssoRequests: SsoRequestStore;
  readonly cliLogins: CliLoginStore;
  readonly recordings: RecordingStore;
  readonly requestNonces: RequestNonceStore;
  readonly authServers: AuthServerStore;
  readonly recordingIndex: RecordingIndexStore;
}

/** Everything auth keeps. */
export interface Store extends StoreTables {
  /**
   * Runs `fn` in one transaction on `tx`; commits when it resolves, rolls back
   * when it throws. Call only `tx` inside `fn` and do not await other I/O there
   * (SQLite holds its write lock; other calls on a SQLite store wait). `fn` may
   * run again when the database reports a serialization failure. Nested calls
   * join the outer transaction. Recordings are not part of transactions.
   *
   * @example
   * ```ts
   * await store.transaction(async (tx) => {
   *   await tx.users.update("alice", { passwordHash }, now);
   *   await tx.invites.deleteForUser("alice");
   * });
   * ```
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** Resolves when the store answers a trivial query (for /readyz). @throws Unavailable */
  ping(): Promise<void>;
  /**
   * Lets go of memory the store only caches (SQLite's page cache, read again
   * when needed); asked when the process gives memory back after sessions
   * ended (lib/memory/trimmer.ts). Stores over a server have none to give.
   */
  releaseMemory?(): void;
  /** Releases the connection(s). */
  close(): Promise<void>;
}
