/**
 * The Auth API: everything the proxy and the admin CLI may ask of the auth
 * role. Proxy code depends on these interfaces only, never on the store:
 * `LocalAuthService` (./local.ts) implements them in process, and
 * `RemoteAuthService` (./api/client.ts) over the mutually authenticated Auth
 * API when auth runs in its own process.
 *
 * A proxy never asserts who a user is: every call made for a user carries the
 * {@link UserProof} the user presented, and auth verifies it again.
 *
 * @module
 */

import type { Permission } from "./roles.ts";
import type { AuditInput } from "./audit.ts";
import type {
  AuditEvent,
  AuditQuery,
  AuthServerRecord,
  InviteKind,
  JoinTokenKind,
  NewSession,
  NodeRecord,
  ProxyRecord,
  Revocation,
  SessionParty,
  SessionRecord,
} from "../store/store.ts";
import type { Signer } from "../sshclient/cert_auth.ts";
import type { JoinTokenView } from "./join.ts";

/** Who a request acts as, with what their roles grant. */
export interface Identity {
  user: string;
  roles: string[];
  /** Logins allowed by the union of the user's roles. */
  logins: string[];
  permissions: Permission[];
  /** Longest certificate or web session the roles allow. */
  maxSessionTtlMs: number;
  /** Whether some role allows SSH port forwarding. */
  portForwarding: boolean;
  /** Whether some role allows file transfer (sftp, scp) on proxy-terminated sessions. */
  fileTransfer: boolean;
  /** Whether some role allows forwarding the user's ssh-agent to nodes. */
  agentForwarding: boolean;
  /** Whether some role asks for a fresh second factor per session (`require_session_mfa`). */
  requireSessionMfa: boolean;
}

/**
 * What a user presented to the proxy, passed on so that auth verifies it
 * itself: the OpenSSH certificate the user proved they hold the key of
 * (base64 of its blob), or the secret id of their web session.
 */
export type UserProof =
  | { kind: "certificate"; certificate: string }
  | { kind: "web_session"; sessionId: string };

/** Credentials a person types. */
export interface Credentials {
  user: string;
  password: string;
  /** The TOTP code, when the second factor is an authenticator app. */
  otp?: string;
  /**
   * The browser's answer (`PublicKeyCredential` as JSON) to a challenge from
   * {@link AuthService.beginWebAuthnLogin}, when the second factor is a security key.
   */
  webauthn?: unknown;
  remoteAddr: string;
}

/** Options for `navigator.credentials.create()` or `.get()`, as JSON (WebAuthn Level 3). */
export type WebAuthnOptions = Record<string, unknown>;

/** A security key or passkey as its owner sees it. */
export interface SecurityKeyView {
  /** The credential id (base64url); not a secret. */
  id: string;
  name: string;
  created: Date;
  lastUsed: Date | null;
  /** A discoverable credential: it can sign in without a user name (passwordless). */
  passkey: boolean;
}

/** The second factors a user has set up. */
export interface SecondFactors {
  /** Whether an authenticator app is set up. */
  totp: boolean;
  keys: SecurityKeyView[];
}

/** A security key registered while signing up. */
export interface NewSecurityKey {
  name: string;
  /** The browser's answer to {@link AuthService.beginInviteWebAuthn}'s options. */
  response: unknown;
}

/** What `postern login` receives. */
export interface IssuedCertificate {
  /** The user certificate line (`<user>-cert.pub`). */
  cert: string;
  /** `@cert-authority` known_hosts lines for the host CA. */
  hostCa: string[];
  cluster: string;
  logins: string[];
  validBefore: Date;
  identity: Identity;
}

/** A command-line login waiting for approval, as the approval page shows it. */
export interface CliLoginView {
  code: string;
  /** Where the CLI asked from. */
  remoteAddr: string;
  created: Date;
  expires: Date;
  /** What approving needs of the signed-in user: a security key, a code, or nothing more. */
  secondFactor: "webauthn" | "otp" | "none";
}

/** What a command-line login's poll finds. */
export type CliLoginPoll =
  | { status: "pending"; expires: Date }
  | { status: "approved"; issued: IssuedCertificate };

/** A new web session: the secret id goes in a cookie, the CSRF token to the page. */
export interface NewWebSession {
  /** The secret session id (cookie value). */
  sessionId: string;
  csrfToken: string;
  identity: Identity;
  expires: Date;
}

/** A valid web session looked up by its cookie. */
export interface WebSessionView {
  identity: Identity;
  /** A non-secret handle for listing and ending sessions. */
  handle: string;
  expires: Date;
  /** The CSRF token is re-derivable only through the session, for the page after a reload. */
  csrfToken: string;
}

/** A web session as listed to its owner. */
export interface WebSessionSummary {
  handle: string;
  created: Date;
  lastSeen: Date;
  expires: Date;
}

/** A node as a user sees it, with the logins they may use there. */
export interface NodeView {
  name: string;
  addr: string;
  labels: Record<string, string>;
  logins: string[];
  /** The node's pinned host key line, so clients can verify it end to end. */
  hostKey: string | null;
}

/** Where a tunnel asks to go: a node's name or address, and the port if one was given. */
export interface TunnelTarget {
  host: string;
  port: number | null;
}

/** What the proxy needs to dial a node it was authorised for. */
export interface AuthorizedNode {
  node: NodeRecord;
  login: string;
  identity: Identity;
}

/** Credentials to log in to a node on a user's behalf. */
export interface NodeLoginCredentials {
  /** Certificate line for the login. */
  certificate: string;
  /** Signs with the certified key (held by the proxy, or by auth behind its agent). */
  signer: Signer;
}

/** An invite as the sign-up page shows it. */
export interface InviteView {
  user: string;
  kind: InviteKind;
  expires: Date;
}

/** TOTP enrolment material shown once. */
export interface TotpEnrollment {
  secret: string;
  otpauthUri: string;
  qrDataUrl: string;
}

/** A user as admins see it. */
export interface UserView {
  name: string;
  roles: string[];
  logins: string[];
  status: "active" | "invited" | "locked";
  lockedUntil: Date | null;
}

/** A user as the admin page of that user shows it. */
export interface UserDetails extends UserView {
  created: Date;
  /** The last successful sign-in (password and second factor), from the audit log. */
  lastLogin: { time: Date; remoteAddr: string | null } | null;
  /** Their web sessions that have not expired, the most recently active first. */
  webSessions: WebSessionSummary[];
}

/** What an administrator may change of an existing user; absent fields stay. */
export interface UserAccessChange {
  roles?: string[];
  logins?: string[];
}

/** Which recordings to list: every field narrows the list; times are epoch ms of the start. */
export interface RecordingFilter {
  user?: string;
  node?: string;
  login?: string;
  since?: number;
  until?: number;
  /** @default 100 */
  limit?: number;
  offset?: number;
}

/** A place in a recording where searched text was found. */
export interface RecordingSearchHit {
  recording: SessionRecord;
  /** Seconds into the recording. */
  time: number;
  /** Output the node wrote ("o"), or input a user typed ("i"). */
  stream: "o" | "i";
  /** The matching line with up to one line before and after it. */
  context: string[];
  /** Which of `context` matched. */
  line: number;
}

/** The Auth API, as the proxy uses it. */
export interface AuthService {
  readonly cluster: string;

  /** Checks password, second factor and lockout; the failure message never says which part was wrong. */
  authenticate(credentials: Credentials): Promise<Identity>;
  /** Authenticates and signs `publicKey` (authorized_keys line) for at most the role's TTL. */
  issueUserCertificate(
    credentials: Credentials & { publicKey: string; ttlMs?: number },
  ): Promise<IssuedCertificate>;
  /**
   * Starts a command-line login approved in a browser: returns the secret
   * the CLI polls with and the code the user compares.
   */
  startCliLogin(
    request: { publicKey: string; ttlMs?: number; remoteAddr: string },
  ): Promise<{ requestId: string; code: string; expires: Date }>;
  /** The pending command-line login of `code`, for its approval page. */
  getCliLogin(proof: UserProof, code: string): Promise<CliLoginView>;
  /**
   * Approves a command-line login for the proof's user after a fresh second
   * factor (the key's answer to {@link beginWebAuthnLogin}, or a code):
   * certifies its key.
   */
  approveCliLogin(
    proof: UserProof,
    code: string,
    secondFactor: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
  ): Promise<void>;
  /** What the CLI finds when it polls; the certificate is handed out once. */
  pollCliLogin(requestId: string): Promise<CliLoginPoll>;
  /**
   * Whether a session of the proof's user needs a fresh second factor now:
   * their roles require one and none was given within `auth.session_mfa_window`.
   */
  needsSessionMfa(proof: UserProof): Promise<boolean>;
  /**
   * Checks a fresh second factor for the proof's user's sessions (an
   * authenticator code, or a security key's answer) and opens the window in
   * which further sessions need none. AccessDenied with a message for the user.
   */
  approveSessionMfa(
    proof: UserProof,
    secondFactor: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
  ): Promise<void>;
  /** Authenticates and opens a web session with its own key pair and certificate. */
  createWebSession(credentials: Credentials): Promise<NewWebSession>;
  /** The session for a cookie value, refreshed; Unauthenticated when absent or expired. */
  getWebSession(sessionId: string): Promise<WebSessionView>;
  /** Logs a web session out (server side). */
  deleteWebSession(sessionId: string, remoteAddr: string): Promise<void>;
  /** The web sessions of the proof's user. */
  listWebSessions(proof: UserProof): Promise<WebSessionSummary[]>;
  /** Ends one of the proof's user's web sessions by handle. */
  endWebSession(proof: UserProof, handle: string): Promise<void>;
  /**
   * The ssh-agent of a web session (PROTOCOL.agent messages, type byte and
   * payload): it lists the session's certificate and signs with its key, which
   * never leaves auth. The proxy logs in to nodes for web terminals with it.
   */
  webSessionAgent(sessionId: string, request: Uint8Array): Promise<Uint8Array>;

  /**
   * A sign-in challenge for `user`'s security keys, or with `user` null for
   * any passkey (passwordless); the answer goes in {@link Credentials.webauthn}
   * or to {@link createPasskeyWebSession}.
   */
  beginWebAuthnLogin(user: string | null): Promise<WebAuthnOptions>;
  /** Signs in with a passkey alone (`auth.passwordless`) and opens a web session. */
  createPasskeyWebSession(response: unknown, remoteAddr: string): Promise<NewWebSession>;
  /**
   * Starts a single sign-on login through `connector` on the proxy at
   * `proxyOrigin` (`https://host:port`, whose callback the provider is given
   * unless the connector names one): the provider's URL to send the browser
   * to, and the state the browser must bring back.
   */
  beginSsoLogin(connector: string, proxyOrigin: string): Promise<{ url: string; state: string }>;
  /**
   * Finishes a single sign-on login from the callback's query string: the
   * user is created or updated from the provider's claims and a web session
   * opened. Unauthenticated / AccessDenied with a message for the user.
   */
  finishSsoLogin(query: string, remoteAddr: string): Promise<NewWebSession>;

  getInvite(token: string): Promise<InviteView>;
  beginInviteEnrollment(token: string): Promise<TotpEnrollment>;
  /** Options to register a security key for an invite's user. */
  beginInviteWebAuthn(token: string): Promise<WebAuthnOptions>;
  /**
   * Sets the password and the second factor (TOTP confirmed with `otp`, or
   * the security key `key`), consumes the invite and opens a web session.
   */
  completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
    key?: NewSecurityKey,
  ): Promise<NewWebSession>;
  changePassword(
    proof: UserProof,
    oldPassword: string,
    newPassword: string,
    otp: string | undefined,
    remoteAddr: string,
    webauthn?: unknown,
  ): Promise<void>;
  /** The second factors the proof's user has set up. */
  listSecondFactors(proof: UserProof): Promise<SecondFactors>;
  /** After checking the password: options to register one more security key. */
  beginWebAuthnRegistration(proof: UserProof, password: string): Promise<WebAuthnOptions>;
  /** Checks the browser's answer and stores the key under `name`. */
  finishWebAuthnRegistration(
    proof: UserProof,
    name: string,
    response: unknown,
    remoteAddr: string,
  ): Promise<SecurityKeyView>;
  /**
   * Removes one of the proof's user's security keys; refused (BadRequest)
   * when it is the last second factor sign-in requires.
   */
  removeSecurityKey(proof: UserProof, id: string, remoteAddr: string): Promise<void>;
  beginTotpReenrollment(proof: UserProof, password: string): Promise<TotpEnrollment>;
  confirmTotpReenrollment(proof: UserProof, otp: string, remoteAddr: string): Promise<void>;

  /**
   * The identity a proof stands for: the certificate verified against the
   * user CA (signature, validity, type), or the web session looked up; then
   * the user as stored now. Unauthenticated when the user no longer exists.
   */
  identityOf(proof: UserProof): Promise<Identity>;
  /** Nodes the proof's user may reach, with the logins allowed on each. */
  listNodes(proof: UserProof): Promise<NodeView[]>;
  /**
   * Finds a node by name or registered address and checks that the proof's
   * user may log in there as `login`; AccessDenied / NotFound with a clear message.
   */
  authorizeNode(proof: UserProof, target: string, login: string): Promise<AuthorizedNode>;
  /**
   * Resolves a tunnel's target to a registered node (a name with any port, or
   * a registered address exactly) and checks that the proof's user may log in
   * there as `login`: one call, so a proxy never dials anything else.
   */
  authorizeTarget(proof: UserProof, target: TunnelTarget, login: string): Promise<AuthorizedNode>;
  /**
   * Authorises the proof's user for `target` as `login` (as authorizeTarget)
   * and returns a single-use tunnel ticket for it, valid from `source` only
   * (lib/auth/tunnel_tickets.ts): the fast path of `postern proxy ssh`.
   */
  issueTunnelTicket(
    proof: UserProof,
    target: TunnelTarget,
    login: string,
    source: string,
  ): Promise<string>;
  /**
   * Spends a tunnel ticket presented from `source` and authorises its grant
   * again against the user and roles as they are now.
   *
   * @throws AccessDenied for a ticket forged, expired, spent or from another address
   */
  redeemTunnelTicket(ticket: string, source: string): Promise<AuthorizedNode>;
  /**
   * Certifies `publicKey` (a key the proxy made for this one login) for
   * `login` only, valid until `notAfter` at most; returns the certificate line.
   */
  signNodeLogin(
    proof: UserProof,
    login: string,
    publicKey: string,
    notAfter: Date,
  ): Promise<string>;
  /** The user CA public key blobs the SSH gateway trusts (cached by remote clients). */
  userCaKeys(): Uint8Array[];
  /** The host CA public key line. */
  hostCaLine(): string;
  /** Known_hosts lines for the host CA: every node name, `*.<cluster>` and the proxies' SSH addresses. */
  hostCaKnownHosts(): Promise<string[]>;
  /** Signs the proxy's own SSH host key with the host CA for the given host names. */
  signProxyHostCertificate(publicKeyLine: string, principals: string[]): Promise<string>;
  /** Pins a node's host key seen on first use (when none was pinned). */
  pinHostKey(node: string, hostKeyLine: string): Promise<void>;
  /** Records where users reach a proxy (invite links and known_hosts patterns use it). */
  registerProxy(proxy: ProxyRegistration): Promise<void>;

  /** Records a security event. */
  audit(event: AuditInput): Promise<void>;
  /** Audit events; the proof's user needs the "audit.read" permission. */
  queryAudit(proof: UserProof, query: AuditQuery): Promise<AuditEvent[]>;
  /** Starts the tracker of a live session the proxy runs (`proxyId`: the proxy). */
  recordSessionStart(session: NewSession): Promise<void>;
  recordSessionEnd(id: string, exitCode: number | null): Promise<void>;
  /**
   * The proxy's live sessions, every few seconds: auth ends the trackers of
   * a proxy that stops saying so ("proxy lost").
   */
  heartbeatSessions(
    proxyId: string,
    live: { id: string; parties: SessionParty[] }[],
  ): Promise<void>;
  /** Live sessions in the cluster the proof's user may see (own, or all with "sessions.join"). */
  listLiveSessions(proof: UserProof): Promise<SessionRecord[]>;
  /**
   * Ends a live session wherever it runs (own, or any with "sessions.end"):
   * its proxy closes it and every party is told who ended it.
   */
  endSession(proof: UserProof, id: string): Promise<void>;
  /**
   * Where a live session the proof's user may see runs: its proxy and that
   * proxy's peer address; null when there is no such session.
   */
  locateSession(proof: UserProof, id: string): Promise<SessionLocation | null>;
  /**
   * Recordings the proof's user may replay (their own, or all with
   * "sessions.replay") that match `filter`, newest first.
   */
  listRecordings(proof: UserProof, filter: RecordingFilter): Promise<SessionRecord[]>;
  /**
   * Finds `text` (its words, in order; the last, of 3 letters or more, may be the start of a word)
   * in the output, and recorded input, of the recordings the proof's user
   * may replay; the newest matches first, at most `limit` (default 50).
   */
  searchRecordings(proof: UserProof, text: string, limit?: number): Promise<RecordingSearchHit[]>;
  /** One recording the proof's user may replay; NotFound / AccessDenied otherwise. */
  getRecording(proof: UserProof, id: string): Promise<SessionRecord>;
  /** The asciicast of a recording the proof's user may replay. */
  openRecording(proof: UserProof, id: string): Promise<ReadableStream<Uint8Array>>;
  /**
   * Appends what a proxy recorded of session `id` from byte `offset` on; a
   * part auth has already is skipped, so a proxy may send again after a
   * failure or a restart. @returns the size auth now holds
   */
  appendRecording(id: string, offset: number, bytes: Uint8Array): Promise<number>;
  /** Revocations after `id`, oldest first: live connections that must end. */
  revocationsSince(id: number): Promise<Revocation[]>;
  /** The newest revocation's id (0 when none): where a starting proxy begins following. */
  lastRevocationId(): Promise<number>;
  /**
   * Marks the nonce of a signed CLI request used until `expires` (epoch ms),
   * for every proxy: false when it was used already (a replayed request).
   */
  useRequestNonce(nonce: string, expires: number): Promise<boolean>;
  /** Why auth cannot serve (store down, audit file unwritable, unreachable), or null when it can. */
  notReadyReason(): Promise<string | null>;
  /**
   * Administration on behalf of the proof's user, for the web UI's admin
   * pages: auth checks their permission for each call and audits them as the actor.
   */
  adminAs(proof: UserProof): AuthAdmin;
}

/** Where a live session runs, for joining it from another proxy. */
export interface SessionLocation {
  proxyId: string;
  peerAddr: string | null;
  user: string;
  node: string;
  login: string;
}

/** Where users reach a proxy. */
export interface ProxyRegistration {
  id: string;
  /** `host:port` of its HTTPS listener as users reach it. */
  publicAddr: string;
  /** `host:port` of its SSH listener as users reach it. */
  sshPublicAddr: string;
  /** `host:port` other proxies reach its peer listener at. */
  peerAddr: string | null;
}

/** An invite link for a user. */
export interface Invite {
  user: string;
  url: string;
  expires: Date;
  /** Set when the link's address is a guess. */
  warning?: string;
}

/** A node to register. */
export interface NewNode {
  name: string;
  addr: string;
  labels: Record<string, string>;
  /** Pinned host key line; fetched from the node when absent. */
  hostKey?: string | null;
  requireHostCert?: boolean;
}

/**
 * Administration: what `postern users|nodes|ca` and the admin pages do. A
 * separate interface from {@link AuthService} because its callers are
 * different (operators, not the proxy's request path).
 */
export interface AuthAdmin {
  addUser(
    user: { name: string; roles: string[]; logins: string[]; ttlMs?: number },
    actor?: string,
  ): Promise<Invite>;
  listUsers(): Promise<UserView[]>;
  /** One user with their last sign-in and web sessions; NotFound when there is none. */
  getUser(name: string): Promise<UserDetails>;
  /**
   * Changes a user's roles and/or logins, checked as when adding a user. When
   * the user loses a login or a role, every proxy ends their live connections.
   */
  updateUser(name: string, change: UserAccessChange, actor?: string): Promise<UserView>;
  /** Ends one web session of a user (by its handle) and its live connections. */
  endUserWebSession(name: string, handle: string, actor?: string): Promise<void>;
  removeUser(name: string, actor?: string): Promise<void>;
  /**
   * Locks a user (for `ttlMs`, else until unlocked): logins and certificates
   * already issued are refused, and every proxy ends their live connections.
   * @returns when the lock ends, or null for no end
   */
  lockUser(
    name: string,
    options?: { ttlMs?: number; reason?: string },
    actor?: string,
  ): Promise<Date | null>;
  /** Ends an administrator's lock and a lockout after failed logins. */
  unlockUser(name: string, actor?: string): Promise<void>;
  /** Revokes the user's password, TOTP and web sessions and makes a new invite. */
  resetUser(name: string, ttlMs?: number, actor?: string): Promise<Invite>;
  addNode(node: NewNode, actor?: string): Promise<NodeRecord>;
  listAllNodes(): Promise<NodeRecord[]>;
  removeNode(name: string, actor?: string): Promise<void>;
  /** Signs a host certificate for a node's host public key line. */
  signHostCertificate(node: string, publicKeyLine: string, ttlMs?: number): Promise<string>;
  /** A POSIX shell script that makes a node trust the user CA. */
  setupScript(node: string): Promise<string>;
  userCaLine(): Promise<string>;
  /** Audit events, for `postern audit`. */
  auditEvents(query: AuditQuery): Promise<AuditEvent[]>;
  /** A one-time token a proxy or an admin's machine joins the cluster with. */
  addJoinToken(
    kind: JoinTokenKind,
    ttlMs?: number,
    actor?: string,
  ): Promise<{ token: string; expires: Date; caPin: string }>;
  listJoinTokens(): Promise<JoinTokenView[]>;
  removeJoinToken(id: string, actor?: string): Promise<void>;
  /** Proxies that joined or registered, the most recently seen first. */
  listProxies(): Promise<ProxyRecord[]>;
  /** Forgets a proxy and refuses its identity from then on. */
  removeProxy(id: string, actor?: string): Promise<void>;
  /** The cluster TLS CA certificate (PEM) and its pin. */
  clusterCa(): Promise<{ cert: string; pin: string }>;
  /** What an administrator checks first: auth's version and store, the CAs, proxies, counts. */
  clusterStatus(): Promise<ClusterStatus>;
}

/** The state of the cluster as the auth server answering sees it (`postern status --cluster`). */
export interface ClusterStatus {
  cluster: string;
  /** postern version of the auth server. */
  version: string;
  /** Why the store or the audit log cannot be written, or null when they can. */
  notReadyReason: string | null;
  /** The certificate authorities: SSH user and host CAs, the cluster TLS CA. */
  authorities: { kind: "user" | "host" | "tls"; fingerprint: string; created: number }[];
  /** Where auth keeps its state. */
  storage: "sqlite" | "postgres";
  /** Every auth server on this store, with when it last reported itself. */
  authServers: AuthServerRecord[];
  /** Every registered proxy with when it last registered or reported its sessions. */
  proxies: ProxyRecord[];
  counts: { users: number; nodes: number; liveSessions: number };
}
