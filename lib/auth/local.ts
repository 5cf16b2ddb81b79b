/**
 * The in-process auth role: implements the Auth API ({@link AuthService})
 * and administration ({@link AuthAdmin}) over a {@link Store}.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { type Config, proxySshHostPatterns } from "../config/config.ts";
import { AccessDenied, BadRequest, NotFound, Unauthenticated } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  encodeOpenSshPrivateKey,
  encodePublicKey,
  fingerprint,
  generateEd25519KeyPair,
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
} from "../sshcert/mod.ts";
import {
  hashSecret,
  type NodeRecord,
  type ProxyRecord,
  type Revocation,
  type SecretHash,
  type Store,
  type UserRecord,
} from "../store/store.ts";
import { type AuditInput, AuditLog } from "./audit.ts";
import { CertAuthority, rawSignature } from "./authority.ts";
import { CredentialChecks, newToken } from "./credentials.ts";
import {
  allowedLogins,
  canForwardPorts,
  defaultRoleTable,
  hasPermission,
  maxSessionTtl,
  type Permission,
  PERMISSIONS,
  resolveRoles,
  type Role,
  validateRole,
} from "./roles.ts";
import type {
  ActiveWebSession,
  AuthAdmin,
  AuthorizedNode,
  AuthService,
  Credentials,
  Identity,
  Invite,
  IssuedCertificate,
  NewNode,
  NewWebSession,
  NodeLoginCredentials,
  NodeView,
  TotpEnrollment,
  UserView,
  WebSessionSummary,
} from "./service.ts";
import { type NodeProbe, NodeRegistry } from "./nodes.ts";
import { UserAdmin } from "./users.ts";

export type { NodeProbe };

/** Options for {@linkcode LocalAuthService.open}. */
export interface LocalAuthOptions {
  store: Store;
  config: Config;
  dataDir: string;
  log: Logger;
  /** Fetches host keys and certificates when nodes are added. */
  probe: NodeProbe;
  /** @default Date.now */
  now?: () => number;
}

/** Placeholder principal for users whose roles allow no login (never a valid Unix name). */
const NO_LOGIN_PRINCIPAL = "-postern-no-login";
/** Re-enrolment secrets wait this long for their confirming code. */
const REENROLL_TTL_MS = 10 * 60_000;
/** How long revocations are kept: proxies follow them within a second. */
const REVOCATION_RETENTION_MS = 60 * 60_000;
/** The lock time of a lock without an end (the largest Date). */
const FOREVER = 8.64e15;

/** Builds the role table: built-ins, then config roles (which may override them). */
export function roleTable(config: Config): Map<string, Role> {
  const table = defaultRoleTable();
  for (const role of config.roles) {
    table.set(
      role.name,
      validateRole({
        name: role.name,
        logins: role.logins,
        node_labels: role.node_labels,
        max_session_ttl_ms: role.max_session_ttl,
        permissions: role.permissions as Permission[],
        port_forwarding: role.port_forwarding,
      }),
    );
  }
  return table;
}

/** The CSRF token of a web session: derived from its secret id, so it needs no storage. */
function csrfTokenFor(sessionId: string): string {
  return createHash("sha256").update(`postern-csrf:${sessionId}`).digest("base64url");
}

function handleOf(idHash: SecretHash): string {
  return idHash.slice(0, 16);
}

/** The auth role, in process. */
export class LocalAuthService implements AuthService, AuthAdmin {
  readonly cluster: string;
  readonly auditLog: AuditLog;
  #credentials: CredentialChecks;
  #roles: Map<string, Role>;
  #pendingTotp = new Map<string, { secret: string; expires: number }>();
  #now: () => number;
  #nodes: NodeRegistry;
  #users: UserAdmin;

  private constructor(
    private readonly options: LocalAuthOptions,
    private readonly ca: CertAuthority,
  ) {
    const { config, store, dataDir, log } = options;
    this.cluster = config.cluster_name;
    this.#now = options.now ?? Date.now;
    this.#roles = roleTable(config);
    this.auditLog = new AuditLog(store, dataDir, log.child("audit"));
    this.#nodes = new NodeRegistry(
      store,
      ca,
      this.#roles,
      options.probe,
      (event) => this.audit(event),
      this.cluster,
      this.#now,
    );
    this.#users = new UserAdmin(
      store,
      this.#roles,
      config.proxy,
      config.auth.invite_ttl,
      (event) => this.audit(event),
      this.#now,
    );
    this.#credentials = new CredentialChecks(store, this.auditLog, {
      secondFactor: config.auth.second_factor,
      maxLoginAttempts: config.auth.max_login_attempts,
      lockoutMs: config.auth.lockout_duration,
    }, this.#now);
  }

  /** Opens the auth role: CAs created on first start, config nodes synced. */
  static async open(options: LocalAuthOptions): Promise<LocalAuthService> {
    const ca = await CertAuthority.open(options.store);
    const service = new LocalAuthService(options, ca);
    await service.#nodes.syncConfigNodes(options.config.nodes);
    return service;
  }

  get #store(): Store {
    return this.options.store;
  }

  get #config(): Config {
    return this.options.config;
  }

  // ---- identities -------------------------------------------------------

  #identity(user: UserRecord): Identity {
    const roles = resolveRoles(user.roles.filter((r) => this.#roles.has(r)), this.#roles);
    return {
      user: user.name,
      roles: user.roles,
      logins: allowedLogins(user, roles),
      permissions: PERMISSIONS.filter((p) => hasPermission(user, roles, p)),
      maxSessionTtlMs: maxSessionTtl(user, roles),
      portForwarding: canForwardPorts(user, roles),
    };
  }

  async identityOf(user: string): Promise<Identity> {
    const record = await this.#store.users.get(user);
    if (!record || !record.passwordHash) {
      throw new Unauthenticated(`User "${user}" does not exist any more; run postern login.`);
    }
    return this.#identity(this.#refuseLocked(record));
  }

  /** Refuses a user an administrator locked: every credential, certificates already issued too. */
  #refuseLocked(user: UserRecord): UserRecord {
    if (user.adminLockUntil !== null && user.adminLockUntil > this.#now()) {
      const until = user.adminLockUntil >= FOREVER
        ? ""
        : ` until ${new Date(user.adminLockUntil).toISOString()}`;
      const why = user.adminLockReason ? ` (${user.adminLockReason})` : "";
      throw new AccessDenied(
        `User "${user.name}" is locked by an administrator${until}${why}; ask them to unlock it.`,
      );
    }
    return user;
  }

  async authenticate(credentials: Credentials): Promise<Identity> {
    const identity = this.#identity(
      this.#refuseLocked(await this.#credentials.verify(credentials)),
    );
    if (identity.maxSessionTtlMs <= 0) {
      throw new AccessDenied(
        `User "${identity.user}" has no valid role (${
          identity.roles.join(", ") || "none"
        }); ask an administrator.`,
      );
    }
    return identity;
  }

  // ---- certificates -----------------------------------------------------

  async issueUserCertificate(
    request: Credentials & { publicKey: string; ttlMs?: number },
  ): Promise<IssuedCertificate> {
    let publicKey;
    try {
      publicKey = parsePublicKeyLine(request.publicKey).key;
    } catch (error) {
      throw new BadRequest(
        `Field "pub_key" is not a valid SSH public key: ${(error as Error).message}`,
      );
    }
    const identity = await this.authenticate(request);
    const ttlMs = Math.min(request.ttlMs ?? identity.maxSessionTtlMs, identity.maxSessionTtlMs);
    const now = this.#now();
    const principals = identity.logins.length ? identity.logins : [NO_LOGIN_PRINCIPAL];
    const signed = this.ca.signUser({
      publicKey,
      user: identity.user,
      principals,
      ttlMs,
      portForwarding: identity.portForwarding,
      now,
    });
    await this.audit({
      code: "cert.issue",
      user: identity.user,
      remoteAddr: request.remoteAddr,
      fields: {
        principals,
        ttl_s: Math.round(ttlMs / 1000),
        key_fingerprint: fingerprint(publicKey),
      },
    });
    return {
      cert: signed.line,
      hostCa: await this.hostCaKnownHosts(),
      cluster: this.cluster,
      logins: identity.logins,
      validBefore: new Date(Number(signed.certificate.validBefore) * 1000),
      identity,
    };
  }

  mintNodeLogin(
    identity: Identity,
    login: string,
    notAfter: Date,
  ): Promise<NodeLoginCredentials> {
    const now = this.#now();
    const ttlMs = Math.min(notAfter.getTime() - now, identity.maxSessionTtlMs);
    if (ttlMs <= 0) {
      return Promise.reject(
        new Unauthenticated("Your certificate has expired; run postern login."),
      );
    }
    const credential = this.ca.mintEphemeral({
      user: identity.user,
      principals: [login],
      ttlMs,
      portForwarding: identity.portForwarding,
      now,
    });
    return Promise.resolve({ certificate: credential.certificate.line, signer: credential.sign });
  }

  userCaKeys(): Uint8Array[] {
    return [encodePublicKey(this.ca.userCaKey)];
  }

  userCaLine(): string {
    return this.ca.userCaLine;
  }

  hostCaLine(): string {
    return this.ca.hostCaLine;
  }

  signProxyHostCertificate(publicKeyLine: string, principals: string[]): Promise<string> {
    const signed = this.ca.signHost({
      publicKey: parsePublicKeyLine(publicKeyLine).key,
      hostId: `postern-proxy@${this.cluster}`,
      principals,
      ttlMs: 365 * 86_400_000,
      now: this.#now(),
    });
    return Promise.resolve(signed.line);
  }

  async hostCaKnownHosts(): Promise<string[]> {
    const nodes = (await this.#store.nodes.list()).map((node) => node.name);
    return this.ca.knownHostsLines(this.cluster, [
      ...nodes,
      ...proxySshHostPatterns(this.#config),
    ]);
  }

  // ---- web sessions -----------------------------------------------------

  async createWebSession(credentials: Credentials): Promise<NewWebSession> {
    return await this.#openWebSession(await this.authenticate(credentials));
  }

  async #openWebSession(identity: Identity): Promise<NewWebSession> {
    const now = this.#now();
    const ttlMs = Math.min(this.#config.auth.web_session_ttl, identity.maxSessionTtlMs);
    const sessionId = newToken();
    const pair = generateEd25519KeyPair();
    const principals = identity.logins.length ? identity.logins : [NO_LOGIN_PRINCIPAL];
    const cert = this.ca.signUser({
      publicKey: pair.publicKeyBlob,
      user: identity.user,
      principals,
      ttlMs,
      portForwarding: identity.portForwarding,
      now,
    });
    const csrfToken = csrfTokenFor(sessionId);
    await this.#store.webSessions.create({
      idHash: hashSecret(sessionId),
      user: identity.user,
      csrfTokenHash: hashSecret(csrfToken),
      privateKey: encodeOpenSshPrivateKey(pair.privateKey, identity.user),
      cert: cert.line,
      created: now,
      lastSeen: now,
      expiresIdle: Math.min(now + this.#config.auth.web_idle_timeout, now + ttlMs),
      expiresAbs: now + ttlMs,
    });
    return { sessionId, csrfToken, identity, expires: new Date(now + ttlMs) };
  }

  async getWebSession(sessionId: string): Promise<ActiveWebSession> {
    const idHash = hashSecret(sessionId);
    const record = await this.#store.webSessions.touch(
      idHash,
      this.#now(),
      this.#config.auth.web_idle_timeout,
    );
    if (!record) throw new Unauthenticated("Your session has expired; sign in again.");
    const identity = await this.identityOf(record.user);
    const expected = Buffer.from(record.csrfTokenHash);
    return {
      identity,
      handle: handleOf(idHash),
      expires: new Date(Math.min(record.expiresIdle, record.expiresAbs)),
      csrfToken: csrfTokenFor(sessionId),
      checkCsrf(token) {
        if (!token) return false;
        const given = Buffer.from(hashSecret(token));
        return given.length === expected.length && timingSafeEqual(given, expected);
      },
    };
  }

  async deleteWebSession(sessionId: string, remoteAddr: string): Promise<void> {
    const idHash = hashSecret(sessionId);
    const record = await this.#store.webSessions.get(idHash);
    await this.#store.webSessions.delete(idHash);
    if (!record) return;
    await this.#revoke(record.user, "signed out", idHash);
    await this.audit({ code: "user.logout", user: record.user, remoteAddr });
  }

  /** Tells every proxy to end `user`'s live connections (or only those of one web session). */
  async #revoke(user: string, reason: string, webSessionHash: SecretHash | null = null) {
    await this.#store.revocations.add({ user, webSessionHash, reason, created: this.#now() });
  }

  revocationsSince(id: number): Promise<Revocation[]> {
    return this.#store.revocations.since(id);
  }

  lastRevocationId(): Promise<number> {
    return this.#store.revocations.lastId();
  }

  async lockUser(
    name: string,
    options: { ttlMs?: number; reason?: string } = {},
    actor?: string,
  ): Promise<Date | null> {
    const ends = options.ttlMs ? new Date(this.#now() + options.ttlMs) : null;
    const until = ends?.getTime() ?? FOREVER;
    await this.#store.users.setAdminLock(name, until, options.reason ?? null, this.#now());
    await this.#revoke(
      name,
      `access revoked by an administrator${options.reason ? ` (${options.reason})` : ""}`,
    );
    await this.audit({
      code: "user.lock",
      user: actor,
      fields: {
        name,
        until: ends?.toISOString() ?? null,
        reason: options.reason ?? null,
      },
    });
    return ends;
  }

  async unlockUser(name: string, actor?: string): Promise<void> {
    await this.#store.users.setAdminLock(name, null, null, this.#now());
    // Also the lockout after failed logins: the Users page shows both as "locked".
    await this.#store.users.resetLoginFailures(name, this.#now());
    await this.audit({ code: "user.unlock", user: actor, fields: { name } });
  }

  async listWebSessions(user: string): Promise<WebSessionSummary[]> {
    const now = this.#now();
    return (await this.#store.webSessions.listForUser(user))
      .filter((s) => s.expiresIdle > now && s.expiresAbs > now)
      .map((s) => ({
        handle: handleOf(s.idHash),
        created: new Date(s.created),
        lastSeen: new Date(s.lastSeen),
        expires: new Date(Math.min(s.expiresIdle, s.expiresAbs)),
      }));
  }

  async endWebSession(user: string, handle: string): Promise<void> {
    const sessions = await this.#store.webSessions.listForUser(user);
    const found = sessions.find((s) => handleOf(s.idHash) === handle);
    if (!found) throw new NotFound(`No web session "${handle}".`);
    await this.#store.webSessions.delete(found.idHash);
    await this.#revoke(user, "signed out", found.idHash);
  }

  async webSessionCredentials(sessionId: string, login: string): Promise<NodeLoginCredentials> {
    const record = await this.#store.webSessions.get(hashSecret(sessionId));
    if (!record) throw new Unauthenticated("Your session has expired; sign in again.");
    const key = parseOpenSshPrivateKey(record.privateKey).privateKey;
    void login; // the session certificate carries every allowed login
    return { certificate: record.cert, signer: (data) => rawSignature(key, data) };
  }

  // ---- invites and second factor -----------------------------------------

  getInvite(token: string) {
    return this.#credentials.getInvite(token);
  }

  beginInviteEnrollment(token: string) {
    return this.#credentials.beginInviteEnrollment(token);
  }

  async completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
  ) {
    const user = await this.#credentials.completeInvite(token, password, otp, remoteAddr);
    return await this.#openWebSession(await this.identityOf(user));
  }

  changePassword(
    user: string,
    oldPassword: string,
    newPassword: string,
    otp: string | undefined,
    remoteAddr: string,
  ) {
    return this.#credentials.changePassword(user, oldPassword, newPassword, otp, remoteAddr);
  }

  async beginTotpReenrollment(user: string, password: string): Promise<TotpEnrollment> {
    const { pending, ...enrollment } = await this.#credentials.beginReenrollment(user, password);
    this.#pendingTotp.set(user, { secret: pending, expires: this.#now() + REENROLL_TTL_MS });
    return enrollment;
  }

  async confirmTotpReenrollment(user: string, otp: string, remoteAddr: string): Promise<void> {
    const pending = this.#pendingTotp.get(user);
    if (!pending || pending.expires < this.#now()) {
      throw new BadRequest("Start the authenticator set-up again; the previous one expired.");
    }
    await this.#credentials.confirmReenrollment(user, pending.secret, otp, remoteAddr);
    this.#pendingTotp.delete(user);
  }

  // ---- nodes ------------------------------------------------------------

  listNodes(identity: Identity): Promise<NodeView[]> {
    return this.#nodes.listNodes(identity);
  }

  authorizeNode(identity: Identity, target: string, login: string): Promise<AuthorizedNode> {
    return this.#nodes.authorizeNode(identity, target, login);
  }

  pinHostKey(node: string, hostKeyLine: string): Promise<void> {
    return this.#nodes.pinHostKey(node, hostKeyLine);
  }

  addNode(node: NewNode, actor?: string): Promise<NodeRecord> {
    return this.#nodes.addNode(node, actor);
  }

  listAllNodes(): Promise<NodeRecord[]> {
    return this.#nodes.listAllNodes();
  }

  removeNode(name: string, actor?: string): Promise<void> {
    return this.#nodes.removeNode(name, actor);
  }

  signHostCertificate(node: string, publicKeyLine: string, ttlMs?: number): Promise<string> {
    return this.#nodes.signHostCertificate(node, publicKeyLine, ttlMs);
  }

  setupScript(node: string): Promise<string> {
    return this.#nodes.setupScript(node);
  }

  // ---- users ------------------------------------------------------------

  addUser(
    user: { name: string; roles: string[]; logins: string[]; ttlMs?: number },
    actor?: string,
  ): Promise<Invite> {
    return this.#users.addUser(user, actor);
  }

  listUsers(): Promise<UserView[]> {
    return this.#users.listUsers();
  }

  async removeUser(name: string, actor?: string): Promise<void> {
    await this.#users.removeUser(name, actor);
    await this.#revoke(name, "access revoked by an administrator (user removed)");
  }

  async resetUser(name: string, ttlMs?: number, actor?: string): Promise<Invite> {
    const invite = await this.#users.resetUser(name, ttlMs, actor);
    await this.#revoke(name, "access revoked by an administrator (credentials reset)");
    return invite;
  }

  // ---- audit and recordings ---------------------------------------------

  audit(event: AuditInput): Promise<void> {
    return this.auditLog.emit(event, this.#now());
  }

  queryAudit(query: Parameters<AuthService["queryAudit"]>[0]) {
    return this.auditLog.query(query);
  }

  async recordSessionStart(
    session: Parameters<AuthService["recordSessionStart"]>[0],
  ): Promise<void> {
    await this.#store.sessions.create(session);
  }

  async recordSessionEnd(id: string, exitCode: number | null): Promise<void> {
    await this.#store.sessions.end(id, this.#now(), exitCode);
  }

  listRecordings(filter: { user?: string; limit?: number }) {
    return this.#store.sessions.list(filter);
  }

  getRecording(id: string) {
    return this.#store.sessions.get(id);
  }

  recordingPath(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new BadRequest(`"${id}" is not a session id.`);
    return join(this.options.dataDir, "recordings", `${id}.cast`);
  }

  async notReadyReason(): Promise<string | null> {
    try {
      await this.#store.ping();
    } catch (error) {
      return `the store does not answer: ${error instanceof Error ? error.message : error}`;
    }
    return this.auditLog.fileFailure;
  }

  /**
   * Ends the sessions a stopped or crashed proxy left open, so none stays
   * "live" for ever; each gets its `session.end` event with `reason`.
   *
   * @returns how many were ended
   */
  async endAbandonedSessions(reason: string): Promise<number> {
    const open = await this.#store.sessions.list({ activeOnly: true, limit: 10_000 });
    for (const session of open) {
      await this.#store.sessions.end(session.id, this.#now(), null);
      await this.audit({
        code: "session.end",
        user: session.user,
        fields: {
          session_id: session.id,
          node: session.node,
          login: session.login,
          exit_code: null,
          reason,
        },
      });
    }
    return open.length;
  }

  /** Records where users reach a proxy (invite links use it when no public_addr is configured). */
  registerProxy(proxy: Omit<ProxyRecord, "lastSeen">): Promise<void> {
    return this.#store.proxies.upsert({ ...proxy, lastSeen: this.#now() });
  }

  /**
   * Deletes what has expired: web sessions (and their keys) and revocations
   * old enough that every proxy has followed them.
   *
   * @returns how many web sessions and revocations were deleted
   */
  async deleteExpired(): Promise<{ webSessions: number; revocations: number }> {
    const now = this.#now();
    return {
      webSessions: await this.#store.webSessions.deleteExpired(now),
      revocations: await this.#store.revocations.deleteBefore(now - REVOCATION_RETENTION_MS),
    };
  }

  /** Closes the audit file (the store is closed by its owner). */
  async close(): Promise<void> {
    await this.auditLog.close();
  }
}
