/**
 * The in-process auth role: implements the Auth API ({@link AuthService})
 * and administration ({@link AuthAdmin}) over a {@link Store}.
 *
 * @module
 */

import { type Config, proxySshHostPatterns } from "../config/config.ts";
import { AccessDenied, BadRequest, NotFound, Unauthenticated } from "../errors.ts";
import type { Logger } from "../log.ts";
import {
  type Certificate,
  decodeBase64,
  decodeCertificate,
  encodePublicKey,
  verifyCertificate,
} from "../sshcert/mod.ts";
import {
  type AuditEvent,
  type AuditQuery,
  type JoinTokenKind,
  type NewSession,
  type NodeRecord,
  type ProxyRecord,
  type Revocation,
  type SessionParty,
  type SessionRecord,
  type Store,
  type UserRecord,
} from "../store/store.ts";
import { type AuditInput, AuditLog } from "./audit.ts";
import { CertAuthority } from "./authority.ts";
import { CredentialChecks } from "./credentials.ts";
import { relyingParty, WebAuthnCeremonies } from "./webauthn.ts";
import { type SsoIdentity, SsoLogins } from "./sso.ts";
import { CliLogins } from "./cli_login.ts";
import { TunnelTickets } from "./tunnel_tickets.ts";
import { SecurityKeys } from "./security_keys.ts";
import type { Permission } from "./roles.ts";
import type {
  AuthAdmin,
  AuthorizedNode,
  AuthService,
  CliLoginPoll,
  CliLoginView,
  ClusterStatus,
  Credentials,
  Identity,
  Invite,
  IssuedCertificate,
  NewNode,
  NewSecurityKey,
  NewWebSession,
  NodeView,
  ProxyRegistration,
  RecordingFilter,
  RecordingSearchHit,
  SecondFactors,
  SecurityKeyView,
  SessionLocation,
  TotpEnrollment,
  TunnelTarget,
  UserAccessChange,
  UserDetails,
  UserProof,
  UserView,
  WebAuthnOptions,
  WebSessionSummary,
  WebSessionView,
} from "./service.ts";
import { scopedAdmin } from "./admin_scope.ts";
import { Joins, type JoinTokenView } from "./join.ts";
import { ClusterTlsCa } from "../tls/cluster_ca.ts";
import { type NodeProbe, NodeRegistry } from "./nodes.ts";
import { FOREVER, UserAdmin } from "./users.ts";
import { type LoginMethod, logins } from "../metrics/metrics.ts";
import { RecordingIndexer } from "./recording_index.ts";
import { RevocationFeed } from "./revocation_feed.ts";
import { WebSessions } from "./web_sessions.ts";
import { LiveSessions } from "./live_sessions.ts";
import { RecordingArchive } from "./recording_archive.ts";
import { ClusterMembers } from "./cluster_members.ts";
import { RoleTable } from "./role_table.ts";
import { CertIssuer, parsedPublicKey } from "./cert_issuer.ts";

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

/** Re-enrolment secrets wait this long for their confirming code. */
const REENROLL_TTL_MS = 10 * 60_000;
/** Clock difference tolerated when checking a certificate a proxy passes on. */
const CERT_CLOCK_SKEW_S = 60;

/** The auth role, in process. */
export class LocalAuthService implements AuthService, AuthAdmin {
  readonly cluster: string;
  readonly auditLog: AuditLog;
  #credentials: CredentialChecks;
  #roleTable: RoleTable;
  #now: () => number;
  #nodes: NodeRegistry;
  #users: UserAdmin;
  #webauthn: WebAuthnCeremonies;
  #sso: SsoLogins;
  #cliLogins: CliLogins;
  #tunnelTickets: Promise<TunnelTickets>;
  #keys: SecurityKeys;
  #revocations: RevocationFeed;
  #webSessions: WebSessions;
  #liveSessions: LiveSessions;
  #recordings: RecordingArchive;
  #members: ClusterMembers;
  #certs: CertIssuer;

  /** Join tokens and the identities of proxies and admin machines. */
  readonly joins: Joins;
  /** The search index of the recordings' text. */
  readonly recordingIndex: RecordingIndexer;

  private constructor(
    private readonly options: LocalAuthOptions,
    private readonly ca: CertAuthority,
    /** The cluster TLS CA behind the Auth API. */
    readonly tlsCa: ClusterTlsCa,
  ) {
    const { config, store, dataDir, log } = options;
    this.cluster = config.cluster_name;
    this.#now = options.now ?? Date.now;
    const audit = (event: AuditInput) => this.audit(event);
    const identityOf = (user: string) => this.#identityOfUser(user);
    this.#revocations = new RevocationFeed(store, this.#now);
    this.#roleTable = new RoleTable(store, this.#revocations, config.roles, this.#now);
    this.auditLog = new AuditLog(store, dataDir, log.child("audit"));
    this.#nodes = new NodeRegistry(
      store,
      ca,
      this.#roleTable.roles,
      options.probe,
      audit,
      this.cluster,
      this.#now,
    );
    this.#users = new UserAdmin(
      store,
      this.#roleTable.roles,
      config.proxy,
      config.auth.invite_ttl,
      this.#revocations,
      audit,
      this.#now,
    );
    this.joins = new Joins(store, tlsCa, this.cluster, audit, this.#now);
    this.recordingIndex = new RecordingIndexer(store, log.child("recording-index"));
    this.#webauthn = new WebAuthnCeremonies(
      store,
      async () =>
        relyingParty(
          config.proxy.public_addr,
          (await store.proxies.list()).map((proxy) => proxy.publicAddr),
        ),
      this.#now,
    );
    this.#tunnelTickets = TunnelTickets.create(
      ca.deriveSecret("postern tunnel tickets v1"),
      (nonce, expires) => this.useRequestNonce(nonce, expires),
      this.#now,
    );
    this.#sso = new SsoLogins(store, config.auth.connectors, this.#now);
    this.#credentials = new CredentialChecks(
      store,
      this.auditLog,
      {
        secondFactor: config.auth.second_factor,
        passwordless: config.auth.passwordless,
        maxLoginAttempts: config.auth.max_login_attempts,
        lockoutMs: config.auth.lockout_duration,
      },
      this.#now,
      this.#webauthn,
    );
    this.#keys = new SecurityKeys(
      store,
      config.auth.second_factor,
      this.#webauthn,
      this.#credentials,
      audit,
    );
    this.#certs = new CertIssuer(
      store,
      ca,
      this.cluster,
      () => proxySshHostPatterns(this.#config),
      audit,
      this.#now,
    );
    this.#cliLogins = new CliLogins(
      store,
      this.#credentials,
      this.#certs,
      audit,
      identityOf,
      this.#now,
    );
    this.#webSessions = new WebSessions(
      store,
      ca,
      { ttlMs: config.auth.web_session_ttl, idleMs: config.auth.web_idle_timeout },
      this.#revocations,
      audit,
      identityOf,
      this.#now,
    );
    this.#liveSessions = new LiveSessions(
      store,
      this.recordingIndex,
      this.#revocations,
      audit,
      this.#now,
    );
    this.#recordings = new RecordingArchive(store, this.recordingIndex);
    this.#members = new ClusterMembers(
      store,
      tlsCa,
      {
        cluster: this.cluster,
        storage: config.storage.type,
        notReadyReason: () => this.notReadyReason(),
      },
      audit,
      this.#now,
    );
  }

  /** Opens the auth role: CAs created on first start. */
  static async open(options: LocalAuthOptions): Promise<LocalAuthService> {
    const ca = await CertAuthority.open(options.store);
    const tlsCa = await ClusterTlsCa.open(options.store, options.config.cluster_name);
    const service = new LocalAuthService(options, ca, tlsCa);
    await service.loadStoredRoles();
    return service;
  }

  get #store(): Store {
    return this.options.store;
  }

  get #config(): Config {
    return this.options.config;
  }

  // ---- identities -------------------------------------------------------

  async #identityOfUser(user: string): Promise<Identity> {
    const record = await this.#store.users.get(user);
    if (!record || (!record.passwordHash && !record.connector)) {
      throw new Unauthenticated(`User "${user}" does not exist any more; run postern login.`);
    }
    return this.#roleTable.identity(this.#refuseLocked(record));
  }

  async identityOf(proof: UserProof): Promise<Identity> {
    return (await this.#verifyProof(proof)).identity;
  }

  /**
   * Verifies what a user presented: a certificate against the user CA (the
   * proxy checked that the user holds its key), or a live web session.
   */
  async #verifyProof(
    proof: UserProof,
  ): Promise<{ identity: Identity; certificate?: Certificate }> {
    if (proof?.kind === "web_session" && typeof proof.sessionId === "string") {
      const record = await this.#webSessions.live(proof.sessionId);
      return { identity: await this.#identityOfUser(record.user) };
    }
    if (proof?.kind === "certificate" && typeof proof.certificate === "string") {
      let certificate: Certificate;
      try {
        certificate = decodeCertificate(decodeBase64(proof.certificate, "certificate"));
      } catch {
        throw new Unauthenticated("Cannot read your certificate; run postern login.");
      }
      const verdict = verifyCertificate(certificate, {
        trustedCAs: this.userCaKeys(),
        type: "user",
        now: new Date(this.#now()),
        clockSkewSeconds: CERT_CLOCK_SKEW_S,
      });
      if (!verdict.ok) throw new Unauthenticated(`${verdict.message}; run postern login.`);
      return { identity: await this.#identityOfUser(certificate.keyId), certificate };
    }
    throw new Unauthenticated("No proof of the user's identity came with the request.");
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
    const identity = this.#roleTable.identity(
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

  /** {@linkcode authenticate}, counted in `postern_logins_total`. */
  async #countedLogin(method: LoginMethod, credentials: Credentials): Promise<Identity> {
    try {
      const identity = await this.authenticate(credentials);
      logins.inc({ method, outcome: "success" });
      return identity;
    } catch (error) {
      logins.inc({ method, outcome: "failure" });
      throw error;
    }
  }

  // ---- certificates -----------------------------------------------------

  async issueUserCertificate(
    request: Credentials & { publicKey: string; ttlMs?: number },
  ): Promise<IssuedCertificate> {
    const publicKey = parsedPublicKey(request.publicKey);
    const identity = await this.#countedLogin("certificate", request);
    const signed = await this.#certs.certify(
      identity,
      publicKey,
      request.ttlMs,
      request.remoteAddr,
    );
    return await this.#certs.issued(identity, signed);
  }

  // ---- command-line logins approved in a browser -------------------------

  startCliLogin(
    request: { publicKey: string; ttlMs?: number; remoteAddr: string },
  ): Promise<{ requestId: string; code: string; expires: Date }> {
    return this.#cliLogins.start(request);
  }

  async getCliLogin(proof: UserProof, code: string): Promise<CliLoginView> {
    return this.#cliLogins.view((await this.#verifyProof(proof)).identity, code);
  }

  async approveCliLogin(
    proof: UserProof,
    code: string,
    secondFactor: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
  ): Promise<void> {
    const { identity } = await this.#verifyProof(proof);
    if (identity.maxSessionTtlMs <= 0) {
      throw new AccessDenied(`User "${identity.user}" has no valid role; ask an administrator.`);
    }
    await this.#cliLogins.approve(identity, code, secondFactor, remoteAddr);
  }

  pollCliLogin(requestId: string): Promise<CliLoginPoll> {
    return this.#cliLogins.poll(requestId);
  }

  // ---- per-session second factor -----------------------------------------

  async needsSessionMfa(proof: UserProof): Promise<boolean> {
    const { identity } = await this.#verifyProof(proof);
    if (!identity.requireSessionMfa) return false;
    const at = (await this.#store.users.get(identity.user))?.sessionMfaAt ?? null;
    return at === null || at + this.#config.auth.session_mfa_window <= this.#now();
  }

  async approveSessionMfa(
    proof: UserProof,
    secondFactor: { otp?: string; webauthn?: unknown },
    remoteAddr: string,
  ): Promise<void> {
    const { identity } = await this.#verifyProof(proof);
    const user = await this.#store.users.get(identity.user);
    if (!user) throw new Unauthenticated("Your user no longer exists.");
    if ((await this.#credentials.freshFactorOf(user)) === "none") {
      // Deny by default: a role that asks for a second factor is never satisfied without one.
      throw new AccessDenied(
        "Your roles ask for a second factor before each session, and you have none set up: add an authenticator app or a security key on the Account page.",
      );
    }
    await this.#credentials.confirmFreshFactor(
      user,
      { otp: secondFactor?.otp, webauthn: secondFactor?.webauthn },
      remoteAddr,
      "session.mfa",
    );
    await this.#store.users.markSessionMfa(identity.user, this.#now());
    await this.audit({
      code: "session.mfa",
      user: identity.user,
      remoteAddr,
      fields: { method: secondFactor?.webauthn !== undefined ? "webauthn" : "otp" },
    });
  }

  async signNodeLogin(
    proof: UserProof,
    login: string,
    publicKeyLine: string,
    notAfter: Date,
  ): Promise<string> {
    const { identity, certificate } = await this.#verifyProof(proof);
    return this.#certs.signNodeLogin(identity, certificate, login, publicKeyLine, notAfter);
  }

  userCaKeys(): Uint8Array[] {
    return [encodePublicKey(this.ca.userCaKey)];
  }

  userCaLine(): Promise<string> {
    return Promise.resolve(this.ca.userCaLine);
  }

  hostCaLine(): string {
    return this.ca.hostCaLine;
  }

  signProxyHostCertificate(publicKeyLine: string, principals: string[]): Promise<string> {
    return this.#certs.signProxyHost(publicKeyLine, principals);
  }

  hostCaKnownHosts(): Promise<string[]> {
    return this.#certs.knownHosts();
  }

  // ---- web sessions -----------------------------------------------------

  async createWebSession(credentials: Credentials): Promise<NewWebSession> {
    return await this.#webSessions.open(await this.#countedLogin("web", credentials));
  }

  async beginWebAuthnLogin(user: string | null): Promise<WebAuthnOptions> {
    if (user !== null && typeof user !== "string") throw new BadRequest("Give a user name.");
    if (user === null && !this.#config.auth.passwordless) {
      throw new BadRequest("Passwordless sign-in is off here; enter your user name and password.");
    }
    return await this.#webauthn.loginOptions(user) as unknown as WebAuthnOptions;
  }

  async createPasskeyWebSession(response: unknown, remoteAddr: string): Promise<NewWebSession> {
    const user = await this.#credentials.verifyPasskey(response, remoteAddr);
    return await this.#webSessions.open(await this.#identityOfUser(user.name));
  }

  beginSsoLogin(connector: string, proxyOrigin: string): Promise<{ url: string; state: string }> {
    return this.#sso.begin(connector, proxyOrigin);
  }

  async finishSsoLogin(query: string, remoteAddr: string): Promise<NewWebSession> {
    let found: SsoIdentity;
    try {
      found = await this.#sso.finish(query);
    } catch (error) {
      await this.audit({
        code: "user.login",
        remoteAddr,
        success: false,
        fields: { method: "sso", reason: (error as Error).message },
      });
      throw error;
    }
    const user = await this.#users.upsertSsoUser(found);
    const identity = this.#roleTable.identity(this.#refuseLocked(user));
    if (identity.maxSessionTtlMs <= 0) {
      throw new AccessDenied(
        `The roles ${found.connector} grants you (${
          found.roles.join(", ")
        }) are not defined here; ask an administrator.`,
      );
    }
    await this.audit({
      code: "user.login",
      user: user.name,
      remoteAddr,
      fields: { method: "sso", connector: found.connector, subject: found.subject },
    });
    return await this.#webSessions.open(identity);
  }

  getWebSession(sessionId: string): Promise<WebSessionView> {
    return this.#webSessions.refresh(sessionId);
  }

  deleteWebSession(sessionId: string, remoteAddr: string): Promise<void> {
    return this.#webSessions.signOut(sessionId, remoteAddr);
  }

  useRequestNonce(nonce: string, expires: number): Promise<boolean> {
    return this.#store.requestNonces.use(nonce, expires, this.#now());
  }

  revocationsSince(id: number): Promise<Revocation[]> {
    return this.#revocations.since(id);
  }

  lastRevocationId(): Promise<number> {
    return this.#revocations.lastId();
  }

  lockUser(
    name: string,
    options: { ttlMs?: number; reason?: string } = {},
    actor?: string,
  ): Promise<Date | null> {
    return this.#users.lockUser(name, options, actor);
  }

  unlockUser(name: string, actor?: string): Promise<void> {
    return this.#users.unlockUser(name, actor);
  }

  async listWebSessions(proof: UserProof): Promise<WebSessionSummary[]> {
    return this.#webSessions.listOf((await this.identityOf(proof)).user);
  }

  async endWebSession(proof: UserProof, handle: string): Promise<void> {
    return this.#webSessions.end((await this.identityOf(proof)).user, handle);
  }

  webSessionAgent(sessionId: string, request: Uint8Array): Promise<Uint8Array> {
    return this.#webSessions.agent(sessionId, request);
  }

  // ---- invites and second factor -----------------------------------------

  getInvite(token: string) {
    return this.#credentials.getInvite(token);
  }

  beginInviteEnrollment(token: string) {
    return this.#credentials.beginInviteEnrollment(token);
  }

  async beginInviteWebAuthn(token: string): Promise<WebAuthnOptions> {
    return await this.#credentials.beginInviteWebAuthn(token) as unknown as WebAuthnOptions;
  }

  async completeInvite(
    token: string,
    password: string,
    otp: string | undefined,
    remoteAddr: string,
    key?: NewSecurityKey,
  ) {
    const user = await this.#credentials.completeInvite(token, password, otp, remoteAddr, key);
    return await this.#webSessions.open(await this.#identityOfUser(user));
  }

  async changePassword(
    proof: UserProof,
    oldPassword: string,
    newPassword: string,
    otp: string | undefined,
    remoteAddr: string,
    webauthn?: unknown,
  ) {
    const { user } = await this.identityOf(proof);
    return this.#credentials.changePassword(
      user,
      oldPassword,
      newPassword,
      otp,
      remoteAddr,
      webauthn,
    );
  }

  // ---- security keys ----------------------------------------------------

  async listSecondFactors(proof: UserProof): Promise<SecondFactors> {
    return this.#keys.list((await this.identityOf(proof)).user);
  }

  async beginWebAuthnRegistration(proof: UserProof, password: string): Promise<WebAuthnOptions> {
    return this.#keys.beginRegistration((await this.identityOf(proof)).user, password);
  }

  async finishWebAuthnRegistration(
    proof: UserProof,
    name: string,
    response: unknown,
    remoteAddr: string,
  ): Promise<SecurityKeyView> {
    const { user } = await this.identityOf(proof);
    return this.#keys.finishRegistration(user, name, response, remoteAddr);
  }

  async removeSecurityKey(proof: UserProof, id: string, remoteAddr: string): Promise<void> {
    return this.#keys.remove((await this.identityOf(proof)).user, id, remoteAddr);
  }

  async beginTotpReenrollment(proof: UserProof, password: string): Promise<TotpEnrollment> {
    const { user } = await this.identityOf(proof);
    const { pending, ...enrollment } = await this.#credentials.beginReenrollment(user, password);
    // In the store: the code that confirms it may reach another auth server.
    await this.#store.users.setPendingTotp(user, {
      secret: pending,
      expires: this.#now() + REENROLL_TTL_MS,
    });
    return enrollment;
  }

  async confirmTotpReenrollment(proof: UserProof, otp: string, remoteAddr: string): Promise<void> {
    const { user } = await this.identityOf(proof);
    const pending = (await this.#store.users.get(user))?.pendingTotp;
    if (!pending || pending.expires < this.#now()) {
      throw new BadRequest("Start the authenticator set-up again; the previous one expired.");
    }
    await this.#credentials.confirmReenrollment(user, pending.secret, otp, remoteAddr);
    await this.#store.users.setPendingTotp(user, null);
  }

  // ---- nodes ------------------------------------------------------------

  async listNodes(proof: UserProof): Promise<NodeView[]> {
    return this.#nodes.listNodes(await this.identityOf(proof));
  }

  async authorizeNode(proof: UserProof, target: string, login: string): Promise<AuthorizedNode> {
    return this.#nodes.authorizeNode(await this.#identityForLogin(proof, login), target, login);
  }

  async authorizeTarget(
    proof: UserProof,
    target: TunnelTarget,
    login: string,
  ): Promise<AuthorizedNode> {
    return this.#nodes.authorizeTarget(await this.#identityForLogin(proof, login), target, login);
  }

  /** The proof's identity, once its certificate (if it is one) allows `login`. */
  async #identityForLogin(proof: UserProof, login: string): Promise<Identity> {
    const { identity, certificate } = await this.#verifyProof(proof);
    if (certificate && !certificate.principals.includes(login)) {
      throw new AccessDenied(
        `Your certificate does not allow the login "${login}" (it allows ${
          certificate.principals.join(", ") || "none"
        }); run postern login again if your roles changed.`,
      );
    }
    return identity;
  }

  async issueTunnelTicket(
    proof: UserProof,
    target: TunnelTarget,
    login: string,
    source: string,
  ): Promise<string> {
    const authorized = await this.authorizeTarget(proof, target, login);
    const tickets = await this.#tunnelTickets;
    return tickets.issue({
      user: authorized.identity.user,
      login,
      node: authorized.node.name,
      source,
    });
  }

  async redeemTunnelTicket(ticket: string, source: string): Promise<AuthorizedNode> {
    const grant = await (await this.#tunnelTickets).redeem(ticket, source);
    const identity = await this.#identityOfUser(grant.user);
    return this.#nodes.authorizeNode(identity, grant.node, grant.login);
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

  async getUser(name: string): Promise<UserDetails> {
    const record = await this.#store.users.get(name);
    if (!record) throw new NotFound(`No user "${name}".`);
    // Failed attempts are "user.login" too, and "user.login.locked" shares the prefix.
    const logins = await this.auditLog.query({
      codePrefix: "user.login",
      user: name,
      success: true,
      order: "desc",
      limit: 20,
    });
    const last = logins.find((event) => event.code === "user.login");
    const webSessions = await this.#webSessions.listOf(name);
    return {
      ...this.#users.view(record),
      created: new Date(record.created),
      lastLogin: last ? { time: new Date(last.time), remoteAddr: last.remoteAddr } : null,
      webSessions: webSessions.sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime()),
    };
  }

  async updateUser(name: string, change: UserAccessChange, actor?: string): Promise<UserView> {
    const { before, after } = await this.#users.updateUser(name, change, actor);
    // A connection keeps what it was authorised for: end those the user may no longer open.
    const allowed = new Set(this.#roleTable.identity(after).logins);
    const lostLogin = this.#roleTable.identity(before).logins.some((login) => !allowed.has(login));
    const lostRole = before.roles.some((role) => !after.roles.includes(role));
    if (lostLogin || lostRole) {
      await this.#revocations.revoke(name, "access changed by an administrator");
    }
    return this.#users.view(after);
  }

  endUserWebSession(name: string, handle: string, actor?: string): Promise<void> {
    return this.#webSessions.endAsAdmin(name, handle, actor);
  }

  removeUser(name: string, actor?: string): Promise<void> {
    return this.#users.removeUser(name, actor);
  }

  resetUser(name: string, ttlMs?: number, actor?: string): Promise<Invite> {
    return this.#users.resetUser(name, ttlMs, actor);
  }

  // ---- audit and recordings ---------------------------------------------

  audit(event: AuditInput): Promise<void> {
    return this.auditLog.emit(event, this.#now());
  }

  async queryAudit(proof: UserProof, query: AuditQuery): Promise<AuditEvent[]> {
    await this.#requirePermission(proof, "audit.read");
    return await this.auditLog.query(query);
  }

  auditEvents(query: AuditQuery): Promise<AuditEvent[]> {
    return this.auditLog.query(query);
  }

  async addJoinToken(kind: JoinTokenKind, ttlMs?: number, actor?: string) {
    return { ...(await this.joins.addToken(kind, ttlMs, actor)), caPin: this.tlsCa.pin };
  }

  listJoinTokens(): Promise<JoinTokenView[]> {
    return this.joins.listTokens();
  }

  removeJoinToken(id: string, actor?: string): Promise<void> {
    return this.joins.removeToken(id, actor);
  }

  clusterCa(): Promise<{ cert: string; pin: string }> {
    return Promise.resolve({ cert: this.tlsCa.certPem, pin: this.tlsCa.pin });
  }

  listProxies(): Promise<ProxyRecord[]> {
    return this.#members.listProxies();
  }

  clusterStatus(): Promise<ClusterStatus> {
    return this.#members.status();
  }

  removeProxy(id: string, actor?: string): Promise<void> {
    return this.#members.removeProxy(id, actor);
  }

  async #requirePermission(proof: UserProof, permission: Permission): Promise<Identity> {
    const identity = await this.identityOf(proof);
    if (!identity.permissions.includes(permission)) {
      throw new AccessDenied(
        `This needs the "${permission}" permission, which your roles do not grant.`,
      );
    }
    return identity;
  }

  recordSessionStart(session: NewSession): Promise<void> {
    return this.#liveSessions.start(session);
  }

  heartbeatSessions(
    proxyId: string,
    live: { id: string; parties: SessionParty[] }[],
  ): Promise<void> {
    return this.#liveSessions.heartbeat(proxyId, live);
  }

  async listLiveSessions(proof: UserProof): Promise<SessionRecord[]> {
    return this.#liveSessions.list(await this.identityOf(proof));
  }

  async locateSession(proof: UserProof, id: string): Promise<SessionLocation | null> {
    return this.#liveSessions.locate(await this.identityOf(proof), id);
  }

  async endSession(proof: UserProof, id: string): Promise<void> {
    return this.#liveSessions.end(await this.identityOf(proof), id);
  }

  /**
   * Ends the trackers no proxy has vouched for in `staleMs` (their proxy
   * stopped or died), each with its `session.end` event.
   *
   * @returns how many were ended
   */
  endLostSessions(staleMs: number): Promise<number> {
    return this.#liveSessions.endLost(staleMs);
  }

  /**
   * Ends the sessions proxy `proxyId` left open when it stopped or crashed, so none stays
   * "live" for ever; each gets its `session.end` event with `reason`.
   *
   * @returns how many were ended
   */
  endAbandonedSessions(reason: string, proxyId: string): Promise<number> {
    return this.#liveSessions.endAbandoned(reason, proxyId);
  }

  recordSessionEnd(id: string, exitCode: number | null): Promise<void> {
    return this.#liveSessions.recordEnd(id, exitCode);
  }

  async listRecordings(proof: UserProof, filter: RecordingFilter): Promise<SessionRecord[]> {
    return this.#recordings.list(await this.identityOf(proof), filter);
  }

  async searchRecordings(
    proof: UserProof,
    text: string,
    limit = 50,
  ): Promise<RecordingSearchHit[]> {
    return this.#recordings.search(await this.identityOf(proof), text, limit);
  }

  async getRecording(proof: UserProof, id: string): Promise<SessionRecord> {
    return this.#recordings.get(await this.identityOf(proof), id);
  }

  async openRecording(proof: UserProof, id: string): Promise<ReadableStream<Uint8Array>> {
    return this.#recordings.open(await this.identityOf(proof), id);
  }

  appendRecording(id: string, offset: number, bytes: Uint8Array): Promise<number> {
    return this.#recordings.append(id, offset, bytes);
  }

  /**
   * Where a proxy in this process writes recordings straight into auth's:
   * the store's directory when it keeps them as files, else null (the proxy
   * spools and ships them like a proxy of its own).
   */
  get recordingDir(): string | null {
    return this.#recordings.localDir;
  }

  adminAs(proof: UserProof): AuthAdmin {
    return scopedAdmin(this, async (permission) => {
      const identity = permission
        ? await this.#requirePermission(proof, permission)
        : await this.identityOf(proof);
      return identity.user;
    });
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
   * Applies the roles and nodes of a reloaded config (SIGHUP) as a start
   * would; other auth settings keep their values until a restart.
   */
  async reloadRolesAndNodes(config: Config): Promise<void> {
    this.options.config = { ...this.#config, roles: config.roles, nodes: config.nodes };
    await this.reconcileConfigRoles();
    await this.reconcileConfigNodes();
  }

  /**
   * Makes the stored nodes match the config's `nodes` (added, changed, and
   * removed when they left it). Only the auth server does this, at start:
   * admin commands run with other configs, or none.
   */
  reconcileConfigNodes(): Promise<void> {
    return this.#nodes.syncConfigNodes(this.#config.nodes);
  }

  /**
   * Stores the role table of this server's config (built-ins and config
   * roles; a role that left the config is gone), so admin commands and other
   * processes on the store decide with the same roles. Only the auth server
   * does this, at start.
   */
  reconcileConfigRoles(): Promise<void> {
    return this.#roleTable.storeConfigRoles(this.#config.roles);
  }

  /**
   * Uses the stored role table when there is one (else the config's, as on a
   * first start). Auth servers sharing a store call it every second: another
   * one, started with a changed config, may have rewritten the table.
   */
  loadStoredRoles(): Promise<void> {
    return this.#roleTable.loadStored();
  }

  /** Reports this auth server alive (the cluster status lists the auth servers on a store). */
  reportAuthServer(server: { id: string; addr: string; started: number }): Promise<void> {
    return this.#members.reportAuthServer(server);
  }

  /** Records where users reach a proxy (invite links use it when no public_addr is configured). */
  registerProxy(proxy: ProxyRegistration): Promise<void> {
    return this.#members.registerProxy(proxy);
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
      webSessions: await this.#webSessions.deleteExpired(now),
      revocations: await this.#revocations.deleteExpired(now),
    };
  }

  /** Finishes indexing and closes the audit file (the store is closed by its owner). */
  async close(): Promise<void> {
    await this.recordingIndex.close();
    await this.auditLog.close();
  }
}
