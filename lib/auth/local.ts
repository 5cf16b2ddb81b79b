/**
 * The in-process auth role: implements the Auth API ({@link AuthService})
 * and administration ({@link AuthAdmin}) over a {@link Store}.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { parseHostPort } from "../config/schema.ts";
import { AccessDenied, BadRequest, Conflict, NotFound, Unauthenticated } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  encodeOpenSshPrivateKey,
  encodePublicKey,
  formatPublicKeyLine,
  generateEd25519KeyPair,
  parseCertificateLine,
  parseOpenSshPrivateKey,
  parsePublicKeyLine,
  verifyCertificate,
} from "../sshcert/mod.ts";
import {
  hashSecret,
  type NodeRecord,
  type SecretHash,
  type Store,
  type UserRecord,
} from "../store/store.ts";
import { type AuditInput, AuditLog } from "./audit.ts";
import { CertAuthority, rawSignature } from "./authority.ts";
import { CredentialChecks, newToken } from "./credentials.ts";
import {
  allowedLogins,
  canAccessNode,
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
import { setupScript } from "./setup_script.ts";

/** Reads what a node presents as its SSH host identity, by connecting to it. */
export interface NodeProbe {
  /** The plain host key, as an authorized_keys line. */
  hostKey(addr: string): Promise<string>;
  /** The host certificate lines it presents (possibly none). */
  hostCertificates(addr: string): Promise<string[]>;
}

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
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const LOGIN = /^[a-z_][a-z0-9_.-]{0,31}$/;

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

  private constructor(
    private readonly options: LocalAuthOptions,
    private readonly ca: CertAuthority,
  ) {
    const { config, store, dataDir, log } = options;
    this.cluster = config.cluster_name;
    this.#now = options.now ?? Date.now;
    this.#roles = roleTable(config);
    this.auditLog = new AuditLog(store, dataDir, log.child("audit"));
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
    await service.#syncConfigNodes();
    return service;
  }

  get #store(): Store {
    return this.options.store;
  }

  get #config(): Config {
    return this.options.config;
  }

  async #syncConfigNodes(): Promise<void> {
    for (const node of this.#config.nodes) {
      const existing = await this.#store.nodes.get(node.name);
      await this.#store.nodes.upsert({
        name: node.name,
        addr: node.addr,
        labels: node.labels,
        hostKey: node.host_key ?? existing?.hostKey ?? null,
        requireHostCert: node.require_host_cert,
        source: "config",
        created: existing?.created ?? this.#now(),
      });
    }
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
    };
  }

  async identityOf(user: string): Promise<Identity> {
    const record = await this.#store.users.get(user);
    if (!record || !record.passwordHash) {
      throw new Unauthenticated(`User "${user}" does not exist any more; run postern login.`);
    }
    return this.#identity(record);
  }

  async authenticate(credentials: Credentials): Promise<Identity> {
    const identity = this.#identity(await this.#credentials.verify(credentials));
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
    const signed = this.ca.signUser({ publicKey, user: identity.user, principals, ttlMs, now });
    await this.audit({
      code: "cert.issue",
      user: identity.user,
      remoteAddr: request.remoteAddr,
      fields: {
        principals,
        ttl_s: Math.round(ttlMs / 1000),
        key_fingerprint: fingerprintOf(encodePublicKey(publicKey)),
      },
    });
    return {
      cert: signed.line,
      hostCa: this.hostCaKnownHosts(),
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

  hostCaKnownHosts(): string[] {
    const proxyHosts = [this.#config.proxy.public_addr, this.#config.proxy.ssh_public_addr]
      .map((addr) => addr && parseHostPort(addr)?.hostname)
      .filter((host): host is string => !!host);
    return this.ca.knownHostsLines(this.cluster, proxyHosts);
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
    if (record) await this.audit({ code: "user.logout", user: record.user, remoteAddr });
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

  async listNodes(identity: Identity): Promise<NodeView[]> {
    const nodes = await this.#store.nodes.list();
    const user = {
      name: identity.user,
      logins: (await this.#store.users.get(identity.user))?.logins ?? [],
    };
    const roles = resolveRoles(identity.roles.filter((r) => this.#roles.has(r)), this.#roles);
    return nodes
      .map((node) => ({
        name: node.name,
        addr: node.addr,
        labels: node.labels,
        logins: identity.logins.filter((login) => canAccessNode(user, roles, node.labels, login)),
        hostKey: node.hostKey,
      }))
      .filter((node) => node.logins.length > 0);
  }

  async authorizeNode(identity: Identity, target: string, login: string): Promise<AuthorizedNode> {
    const nodes = await this.#store.nodes.list();
    const node = nodes.find((n) => n.name === target) ??
      nodes.find((n) => n.addr === target || n.addr.replace(/:22$/, "") === target);
    if (!node) {
      throw new NotFound(
        `Node "${target}" is not registered with this proxy; run \`postern ls\` to see the nodes you can reach.`,
      );
    }
    const user = {
      name: identity.user,
      logins: (await this.#store.users.get(identity.user))?.logins ?? [],
    };
    const roles = resolveRoles(identity.roles.filter((r) => this.#roles.has(r)), this.#roles);
    if (!canAccessNode(user, roles, node.labels, login)) {
      throw new AccessDenied(
        `User "${identity.user}" may not log in to node "${node.name}" as "${login}"; ` +
          `allowed logins there: ${
            identity.logins.filter((l) => canAccessNode(user, roles, node.labels, l)).join(", ") ||
            "none"
          }.`,
      );
    }
    return { node, login, identity };
  }

  async pinHostKey(node: string, hostKeyLine: string): Promise<void> {
    const record = await this.#store.nodes.get(node);
    if (record && !record.hostKey) await this.#store.nodes.update(node, { hostKey: hostKeyLine });
  }

  async addNode(node: NewNode, actor?: string): Promise<NodeRecord> {
    if (!NODE_NAME.test(node.name)) {
      throw new BadRequest(`Node name "${node.name}" must be letters, digits, ".", "_" or "-".`);
    }
    if (!parseHostPort(node.addr)) {
      throw new BadRequest(`Node address "${node.addr}" is not host:port.`);
    }
    if (await this.#store.nodes.get(node.name)) {
      throw new Conflict(
        `Node "${node.name}" already exists; remove it first with postern nodes rm.`,
      );
    }
    if (node.hostKey) {
      // A pinned key that does not parse would refuse every later connection to the node.
      try {
        parsePublicKeyLine(node.hostKey);
      } catch (error) {
        throw new BadRequest(
          `Host key for node "${node.name}" is not an SSH public key line: ${
            (error as Error).message
          }`,
        );
      }
    }
    const hostKey = node.requireHostCert
      ? await this.#certifiedHostKey(node.name, node.addr)
      : node.hostKey || await this.options.probe.hostKey(node.addr);
    const record = await this.#store.nodes.create({
      name: node.name,
      addr: node.addr,
      labels: node.labels,
      hostKey,
      requireHostCert: node.requireHostCert ?? false,
      source: "cli",
      created: this.#now(),
    });
    await this.audit({
      code: "node.add",
      user: actor,
      fields: { node: node.name, addr: node.addr, host_key: fingerprintOfLine(hostKey) },
    });
    return record;
  }

  /** The host key certified for `name` by the host CA, as presented by the node. */
  async #certifiedHostKey(name: string, addr: string): Promise<string> {
    const host = parseHostPort(addr)!.hostname;
    for (const line of await this.options.probe.hostCertificates(addr)) {
      try {
        const { certificate } = parseCertificateLine(line);
        const verdict = verifyCertificate(certificate, {
          trustedCAs: [encodePublicKey(this.ca.hostCaKey)],
          type: "host",
          now: new Date(this.#now()),
          clockSkewSeconds: 60,
        });
        const named = certificate.principals.includes(name) ||
          certificate.principals.includes(host);
        if (verdict.ok && named) return formatPublicKeyLine(certificate.publicKey);
      } catch {
        // Not a certificate we can read: try the next one.
      }
    }
    throw new AccessDenied(
      `Node "${name}" (${addr}) presents no host certificate signed by the postern host CA for its name; ` +
        `install one with \`postern nodes setup-script ${name}\` (or add it without --require-host-cert).`,
    );
  }

  listAllNodes(): Promise<NodeRecord[]> {
    return this.#store.nodes.list();
  }

  async removeNode(name: string, actor?: string): Promise<void> {
    if (!(await this.#store.nodes.delete(name))) throw new NotFound(`No node "${name}".`);
    await this.audit({ code: "node.remove", user: actor, fields: { node: name } });
  }

  async signHostCertificate(
    node: string,
    publicKeyLine: string,
    ttlMs = 365 * 86_400_000,
  ): Promise<string> {
    const record = await this.#store.nodes.get(node);
    if (!record) throw new NotFound(`No node "${node}".`);
    let publicKey;
    try {
      publicKey = parsePublicKeyLine(publicKeyLine).key;
    } catch (error) {
      throw new BadRequest(`Not an SSH public key: ${(error as Error).message}`);
    }
    const host = parseHostPort(record.addr)!.hostname;
    const principals = [...new Set([node, `${node}.${this.cluster}`, host])];
    const signed = this.ca.signHost({
      publicKey,
      hostId: node,
      principals,
      ttlMs,
      now: this.#now(),
    });
    await this.audit({ code: "node.host_cert", fields: { node, principals } });
    return signed.line;
  }

  async setupScript(node: string): Promise<string> {
    const record = await this.#store.nodes.get(node);
    if (!record) throw new NotFound(`No node "${node}".`);
    const hostCert = record.hostKey
      ? await this.signHostCertificate(node, record.hostKey)
      : undefined;
    return setupScript({
      node,
      userCaLine: this.ca.userCaLine,
      hostKeyLine: record.hostKey,
      hostCert,
    });
  }

  // ---- users ------------------------------------------------------------

  #inviteUrl(token: string): string {
    const publicAddr = this.#config.proxy.public_addr ??
      `${Deno.hostname()}:${parseHostPort(this.#config.proxy.web_listen_addr)!.port}`;
    return `https://${publicAddr}/web/invite/${token}`;
  }

  async addUser(
    user: { name: string; roles: string[]; logins: string[]; ttlMs?: number },
    actor?: string,
  ): Promise<Invite> {
    if (!USER_NAME.test(user.name)) {
      throw new BadRequest(
        `User name "${user.name}" must be lowercase letters, digits, ".", "_" or "-".`,
      );
    }
    const bad = user.logins.find((login) => !LOGIN.test(login));
    if (bad) throw new BadRequest(`Login "${bad}" is not a valid Unix user name.`);
    if (user.roles.length === 0) throw new BadRequest("Give the user at least one role (--roles).");
    resolveRoles(user.roles, this.#roles);
    const now = this.#now();
    const ttlMs = user.ttlMs ?? this.#config.auth.invite_ttl;
    const invite = await this.#store.transaction(async (tx) => {
      await tx.users.create({
        name: user.name,
        roles: user.roles,
        logins: user.logins,
        created: now,
      });
      const token = newToken();
      await tx.invites.create({
        tokenHash: hashSecret(token),
        user: user.name,
        kind: "signup",
        expires: now + ttlMs,
        created: now,
      });
      return token;
    });
    await this.audit({
      code: "user.create",
      user: actor,
      fields: { name: user.name, roles: user.roles, logins: user.logins },
    });
    return { user: user.name, url: this.#inviteUrl(invite), expires: new Date(now + ttlMs) };
  }

  async listUsers(): Promise<UserView[]> {
    const now = this.#now();
    return (await this.#store.users.list()).map((user) => {
      const locked = user.lockedUntil !== null && user.lockedUntil > now;
      return {
        name: user.name,
        roles: user.roles,
        logins: user.logins,
        status: locked ? "locked" : user.passwordHash ? "active" : "invited",
        lockedUntil: locked ? new Date(user.lockedUntil!) : null,
      };
    });
  }

  async removeUser(name: string, actor?: string): Promise<void> {
    if (!(await this.#store.users.delete(name))) throw new NotFound(`No user "${name}".`);
    await this.audit({ code: "user.delete", user: actor, fields: { name } });
  }

  async resetUser(name: string, ttlMs?: number, actor?: string): Promise<Invite> {
    const now = this.#now();
    const expires = now + (ttlMs ?? this.#config.auth.invite_ttl);
    const token = await this.#store.transaction(async (tx) => {
      if (!(await tx.users.get(name))) throw new NotFound(`No user "${name}".`);
      await tx.users.update(
        name,
        { passwordHash: null, totpSecret: null, totpConfirmed: false },
        now,
      );
      await tx.users.resetLoginFailures(name, now);
      await tx.webSessions.deleteForUser(name);
      await tx.invites.deleteForUser(name);
      const token = newToken();
      await tx.invites.create({
        tokenHash: hashSecret(token),
        user: name,
        kind: "reset",
        expires,
        created: now,
      });
      return token;
    });
    await this.audit({ code: "user.reset", user: actor, fields: { name } });
    return { user: name, url: this.#inviteUrl(token), expires: new Date(expires) };
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

  async ready(): Promise<boolean> {
    try {
      await this.#store.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the audit file (the store is closed by its owner). */
  async close(): Promise<void> {
    await this.auditLog.close();
  }
}

function fingerprintOf(blob: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

function fingerprintOfLine(line: string | null): string | null {
  if (!line) return null;
  try {
    return fingerprintOf(encodePublicKey(parsePublicKeyLine(line).key));
  } catch {
    return null;
  }
}
