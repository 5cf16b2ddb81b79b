/**
 * The Auth API: everything the proxy and the admin CLI may ask of the auth
 * role. Proxy code depends on this interface only, never on the store, so
 * auth can later run in its own process behind HTTPS without the proxy
 * changing. `LocalAuthService` (./local.ts) is the in-process implementation.
 *
 * @module
 */

import type { Permission } from "./roles.ts";
import type { AuditInput } from "./audit.ts";
import type {
  AuditEvent,
  AuditQuery,
  InviteKind,
  NodeRecord,
  Revocation,
  SessionRecord,
} from "../store/store.ts";
import type { Signer } from "../sshclient/cert_auth.ts";

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
}

/** Credentials a person types. */
export interface Credentials {
  user: string;
  password: string;
  /** The TOTP code; required unless `auth.second_factor` is off. */
  otp?: string;
  remoteAddr: string;
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

/** A new web session: the secret id goes in a cookie, the CSRF token to the page. */
export interface NewWebSession {
  /** The secret session id (cookie value). */
  sessionId: string;
  csrfToken: string;
  identity: Identity;
  expires: Date;
}

/** A valid web session looked up by its cookie. */
export interface ActiveWebSession {
  identity: Identity;
  /** A non-secret handle for listing and ending sessions. */
  handle: string;
  expires: Date;
  /** Constant-time check of a CSRF token against this session's. */
  checkCsrf(token: string | null | undefined): boolean;
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
  /** Signs with the certified key; the private key stays in auth. */
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

/** The Auth API. */
export interface AuthService {
  readonly cluster: string;

  /** Checks password, second factor and lockout; the failure message never says which part was wrong. */
  authenticate(credentials: Credentials): Promise<Identity>;
  /** Authenticates and signs `publicKey` (authorized_keys line) for at most the role's TTL. */
  issueUserCertificate(
    credentials: Credentials & { publicKey: string; ttlMs?: number },
  ): Promise<IssuedCertificate>;
  /** Authenticates and opens a web session with its own key pair and certificate. */
  createWebSession(credentials: Credentials): Promise<NewWebSession>;
  /** The session for a cookie value, refreshed; Unauthenticated when absent or expired. */
  getWebSession(sessionId: string): Promise<ActiveWebSession>;
  /** Logs a web session out (server side). */
  deleteWebSession(sessionId: string, remoteAddr: string): Promise<void>;
  listWebSessions(user: string): Promise<WebSessionSummary[]>;
  /** Ends one of `user`'s web sessions by handle. */
  endWebSession(user: string, handle: string): Promise<void>;
  /** Signing for the web session's certificate, for the node login of a web terminal. */
  webSessionCredentials(sessionId: string, login: string): Promise<NodeLoginCredentials>;

  getInvite(token: string): Promise<InviteView>;
  beginInviteEnrollment(token: string): Promise<TotpEnrollment>;
  /** Sets the password, confirms TOTP, consumes the invite and opens a web session. */
  completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
  ): Promise<NewWebSession>;
  changePassword(
    user: string,
    oldPassword: string,
    newPassword: string,
    otp: string | undefined,
    remoteAddr: string,
  ): Promise<void>;
  beginTotpReenrollment(user: string, password: string): Promise<TotpEnrollment>;
  confirmTotpReenrollment(user: string, otp: string, remoteAddr: string): Promise<void>;

  /** The identity of a certificate holder; Unauthenticated when the user no longer exists. */
  identityOf(user: string): Promise<Identity>;
  /** Nodes `identity` may reach, with the logins allowed on each. */
  listNodes(identity: Identity): Promise<NodeView[]>;
  /**
   * Finds a node by name or registered address and checks that `identity` may
   * log in there as `login`; AccessDenied / NotFound with a clear message.
   */
  authorizeNode(identity: Identity, target: string, login: string): Promise<AuthorizedNode>;
  /** A short-lived certificate for `login` only, valid until `notAfter` at most. */
  mintNodeLogin(identity: Identity, login: string, notAfter: Date): Promise<NodeLoginCredentials>;
  /** The user CA public key blob the SSH gateway trusts. */
  userCaKeys(): Uint8Array[];
  /** The host CA public key line. */
  hostCaLine(): string;
  /** Known_hosts lines for the host CA: every node name, `*.<cluster>` and the proxy's SSH address. */
  hostCaKnownHosts(): Promise<string[]>;
  /** Signs the proxy's own SSH host key with the host CA for the given host names. */
  signProxyHostCertificate(publicKeyLine: string, principals: string[]): Promise<string>;
  /** Pins a node's host key seen on first use (when none was pinned). */
  pinHostKey(node: string, hostKeyLine: string): Promise<void>;

  /** Records a security event. */
  audit(event: AuditInput): Promise<void>;
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  recordSessionStart(session: Omit<SessionRecord, "ended" | "exitCode">): Promise<void>;
  recordSessionEnd(id: string, exitCode: number | null): Promise<void>;
  listRecordings(filter: { user?: string; limit?: number }): Promise<SessionRecord[]>;
  getRecording(id: string): Promise<SessionRecord | null>;
  /** Absolute path of a recording file. */
  recordingPath(id: string): string;
  /** Revocations after `id`, oldest first: live connections that must end. */
  revocationsSince(id: number): Promise<Revocation[]>;
  /** The newest revocation's id (0 when none): where a starting proxy begins following. */
  lastRevocationId(): Promise<number>;
  /** Why auth cannot serve (store down, audit file unwritable), or null when it can. */
  notReadyReason(): Promise<string | null>;
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
  userCaLine(): string;
}
