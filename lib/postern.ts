/**
 * Composes one postern process from its roles. `postern start` runs both
 * (zero config, one data dir); `--roles auth` runs the auth service and its
 * Auth API only; `--roles proxy` runs a proxy that reaches auth through the
 * Auth API with a cluster identity and keeps no state of its own.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { type Config, proxyHostNames } from "./config/config.ts";
import { parseHostPort } from "./config/schema.ts";
import { BadRequest, isKind } from "./errors.ts";
import type { Logger } from "./log.ts";
import { loadTlsMaterial, type TlsMaterial } from "./tls/certificate.ts";
import { loadOrCreateHostKey } from "./proxy/ssh/host_key.ts";
import { startWebServer, type WebServer } from "./proxy/web/server.ts";
import { type SshServer, startSshServer } from "./proxy/ssh/server.ts";
import { createGateway } from "./proxy/ssh/gateway.ts";
import { openStore } from "./store/open.ts";
import { releaseOnTrim } from "./memory/trimmer.ts";
import { LocalAuthService } from "./auth/local.ts";
import type { AuthService } from "./auth/service.ts";
import { type AuthApiServer, startAuthApi } from "./auth/api/server.ts";
import { type ApiIdentity, AuthApiClient, connectRemoteAuth } from "./auth/api/client.ts";
import { generateTlsKeyPair } from "./tls/cluster_ca.ts";
import { type PeerServer, startPeerServer } from "./proxy/peer/server.ts";
import {
  identityFile,
  joinCluster,
  keepRenewed,
  type LoadedIdentity,
  readIdentity,
  writeIdentity,
} from "./auth/api/identity.ts";
import { probeHostCertificates, probeHostKey } from "./sshclient/probe.ts";
import { SessionHub } from "./session/hub.ts";
import { followRevocations, LiveConnections } from "./proxy/revocations.ts";
import { authRoutes } from "./proxy/web/api/auth_routes.ts";
import { securityKeyRoutes } from "./proxy/web/api/security_key_routes.ts";
import { ssoRoutes } from "./proxy/web/api/sso_routes.ts";
import { cliLoginRoutes } from "./proxy/web/api/cli_login_routes.ts";
import { FailureLimiter } from "./proxy/web/api/failure_limit.ts";
import { resourceRoutes } from "./proxy/web/api/resources.ts";
import { userRoutes } from "./proxy/web/api/user_routes.ts";
import { terminalRoutes } from "./proxy/web/terminal.ts";
import { pingRoute } from "./proxy/web/api/ping.ts";
import { tunnelRoute } from "./proxy/web/tunnel.ts";
import { serveRawTunnel } from "./proxy/web/raw_tunnel.ts";
import { serveTicketTunnel } from "./proxy/web/fast_tunnel.ts";
import { TUNNEL_ALPN } from "./net/tunnel_protocol.ts";
import type { NodeSessionDeps } from "./proxy/node_session.ts";
import { fileRoutes } from "./proxy/web/files.ts";
import { NodeStatus } from "./proxy/node_status.ts";
import { ProxyRecordings } from "./proxy/recordings.ts";
import { checkOpenFileLimit } from "./proxy/file_limit.ts";
import { siteAlgorithms } from "./net/ssh_algorithms.ts";
import { type MetricsServer, startMetricsServer } from "./metrics/server.ts";
import { certificateExpiry } from "./metrics/metrics.ts";

/** What a process runs. */
export type Role = "auth" | "proxy";

/** How a proxy of its own reaches auth. */
export interface AuthConnection {
  /** `host:port` of each auth server's Auth API. */
  servers: string[];
  /** A join token, needed only until the proxy has an identity. */
  token?: string;
  /** `sha256:<hex>` of the cluster CA, checked when joining. */
  caPin?: string;
}

/** Options of {@linkcode startPostern}. */
export interface StartOptions {
  config: Config;
  dataDir: string;
  log: Logger;
  /** @default ["auth", "proxy"] */
  roles?: Role[];
  /** Required when the roles are only "proxy". */
  authConnection?: AuthConnection;
}

/** The proxy role, running. */
export interface ProxyRole {
  web: WebServer;
  ssh: SshServer;
  tls: TlsMaterial;
  hub: SessionHub;
  /** The proxy's SSH host public key line. */
  hostPublicKey: string;
  /** A renewed cluster identity, for the peer listener and peer links. */
  useIdentity(identity: ApiIdentity): void;
  /** Loads the HTTPS certificate of `config` again; new connections get it if it changed. */
  reloadTls(config: Config): Promise<void>;
  stop(): Promise<void>;
}

/** The auth role, running. */
export interface AuthRole {
  auth: LocalAuthService;
  api: AuthApiServer;
  stop(): Promise<void>;
}

/** A running postern process. */
export interface Postern {
  authRole?: AuthRole;
  proxy?: ProxyRole;
  /** The `/metrics` listener, when `metrics.listen_addr` is set. */
  metrics?: MetricsServer;
  /**
   * Applies a reloaded config (SIGHUP) without ending connections: roles and
   * nodes (auth), the HTTPS certificate files (proxy). Other settings need a restart.
   */
  reload(config: Config): Promise<void>;
  /** Closes listeners, ends in-flight work, closes the store. */
  stop(): Promise<void>;
}

/** The host users reach the proxy at: public_addr's host, else this machine's name. */
export function publicHost(config: Config): string {
  const configured = config.proxy.public_addr && parseHostPort(config.proxy.public_addr);
  return configured ? configured.hostname : Deno.hostname();
}

/** Opens the auth role over a data dir (also used by admin commands). */
export async function openAuth(
  options: { config: Config; dataDir: string; log: Logger },
): Promise<{ auth: LocalAuthService; close(): Promise<void> }> {
  const store = await openStore(options);
  try {
    const probe = { hostKey: probeHostKey, hostCertificates: probeHostCertificates };
    const auth = await LocalAuthService.open({ ...options, store, probe });
    const stopReleasing = releaseOnTrim(() => store.releaseMemory?.());
    return {
      auth,
      async close() {
        stopReleasing();
        await auth.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** Prints an invite for the first admin when there are no users yet. */
async function bootstrapAdmin(auth: LocalAuthService, log: Logger): Promise<void> {
  if ((await auth.listUsers()).length > 0) return;
  const invite = await auth.addUser(
    { name: "admin", roles: ["admin"], logins: ["root"] },
    "postern",
  ).catch((error) => {
    // Another auth server on the same database got there first.
    if (isKind(error, "conflict")) return null;
    throw error;
  });
  if (!invite) return;
  log.info(
    'no users yet: created user "admin"; open this link to set its password and second factor',
    {
      invite: invite.url,
      expires: invite.expires.toISOString(),
    },
  );
}

/** How often expired web sessions (and their keys) and old revocations are deleted. */
const SWEEP_MS = 10 * 60_000;
/** How often a proxy tells auth which sessions it runs. */
const HEARTBEAT_MS = 10_000;
/** A session no proxy vouched for this long is ended as "proxy lost". */
const TRACKER_STALE_MS = 30_000;

/** How often an auth server re-reads the role table another auth server on its store may have changed. */
const ROLE_REFRESH_MS = 1_000;

/**
 * Deletes what has expired now and every {@linkcode SWEEP_MS}; ends lost
 * sessions; follows role changes made by other auth servers; reports this
 * auth server alive (as `self`) every {@linkcode HEARTBEAT_MS}.
 */
function sweepExpired(
  auth: LocalAuthService,
  self: { id: string; addr: string; started: number },
  log: Logger,
): () => void {
  const sweep = () =>
    auth.deleteExpired().then(
      (deleted) => deleted.webSessions > 0 && log.info("deleted expired web sessions", deleted),
      (error) => log.warn("cannot delete expired records", { error: String(error) }),
    );
  const reap = () =>
    auth.endLostSessions(TRACKER_STALE_MS).then(
      (ended) => ended > 0 && log.warn("ended sessions whose proxy stopped answering", { ended }),
      (error) => log.warn("cannot end lost sessions", { error: String(error) }),
    );
  let rolesFailing = false;
  const refreshRoles = () =>
    auth.loadStoredRoles().then(
      () => rolesFailing = false,
      (error) => {
        if (!rolesFailing) log.warn("cannot re-read the role table", { error: String(error) });
        rolesFailing = true;
      },
    );
  const report = () =>
    auth.reportAuthServer(self).catch((error) =>
      log.warn("cannot report this auth server", { error: String(error) })
    );
  void sweep();
  void report();
  const timers = [
    setInterval(sweep, SWEEP_MS),
    setInterval(reap, HEARTBEAT_MS),
    setInterval(report, HEARTBEAT_MS),
    setInterval(refreshRoles, ROLE_REFRESH_MS),
  ];
  return () => timers.forEach(clearInterval);
}

/** Tells auth every {@linkcode HEARTBEAT_MS} which sessions this proxy runs, with their parties. */
function heartbeat(
  auth: AuthService,
  hub: SessionHub,
  proxyId: string,
  log: Logger,
): () => void {
  let failing = false;
  const beat = () =>
    auth.heartbeatSessions(
      proxyId,
      hub.list().map(({ id, parties }) => ({
        id,
        parties: parties.map(({ user, mode }) => ({ user, mode })),
      })),
    ).then(
      () => failing = false,
      (error) => {
        if (!failing) log.warn("cannot report live sessions to auth", { error: String(error) });
        failing = true;
      },
    );
  const timer = setInterval(beat, HEARTBEAT_MS);
  return () => clearInterval(timer);
}

/** Starts the auth role: the store, the CAs, the Auth API listener. */
export async function startAuthRole(
  options: {
    config: Config;
    dataDir: string;
    log: Logger;
    /** The id of the proxy in this process, if one runs here. */
    localProxyId?: string;
  },
): Promise<AuthRole> {
  const { config, dataDir, log } = options;
  if (config.auth.second_factor === "off") {
    log.warn(
      "auth.second_factor is off: logins need only a password. Do not run like this in production.",
    );
  }
  const { auth, close } = await openAuth({ config, dataDir, log });
  let stopSweeping: (() => void) | undefined;
  let api: AuthApiServer;
  try {
    await auth.reconcileConfigRoles();
    await auth.reconcileConfigNodes();
    // The proxy in this process stopped with the last run: its sessions ended
    // then. Other proxies' sessions outlive an auth restart.
    if (options.localProxyId) {
      const abandoned = await auth.endAbandonedSessions("proxy restarted", options.localProxyId);
      if (abandoned > 0) {
        log.warn("ended sessions a previous run left open (it stopped without ending them)", {
          sessions: abandoned,
        });
      }
    }
    const listen = parseHostPort(config.auth.listen_addr)!;
    stopSweeping = sweepExpired(auth, {
      id: `${Deno.hostname()}:${listen.port}`,
      addr: config.auth.listen_addr,
      started: Date.now(),
    }, log);
    // Recordings made before the search index existed, or while no auth server ran.
    auth.recordingIndex.updateAll().catch((error) =>
      log.warn("cannot index the recordings for search", { error: String(error) })
    );
    api = await startAuthApi({
      ...parseHostPort(config.auth.listen_addr)!,
      publicNames: config.auth.public_addrs,
      auth,
      log: log.child("api"),
    });
  } catch (error) {
    stopSweeping?.();
    await close();
    throw error;
  }
  log.info("cluster CA pin (proxies join with it)", { ca_pin: auth.tlsCa.pin });
  return {
    auth,
    api,
    async stop() {
      stopSweeping();
      await api.close();
      await close();
    },
  };
}

/** A cluster identity for the proxy beside auth, issued at each start (it never leaves). */
async function localIdentity(auth: LocalAuthService, proxyId: string): Promise<ApiIdentity> {
  const keys = await generateTlsKeyPair();
  const cert = await auth.tlsCa.issue({
    publicKey: keys.publicKey,
    name: { kind: "proxy", id: proxyId },
    ttlMs: 365 * 86_400_000,
  });
  return { cert, key: keys.privateKey, ca: auth.tlsCa.certPem };
}

/** The proxy id an identity certificate names (its CN). */
function identityId(identity: LoadedIdentity): string {
  const cn = new X509Certificate(identity.cert).subject.split("\n").find((l) =>
    l.startsWith("CN=")
  );
  return cn ? cn.slice(3) : "";
}

/**
 * Reaches auth from a proxy of its own: its identity from the data dir, or
 * joined with the token; then the Auth API client, renewing the identity.
 */
async function connectToAuth(
  options: { config: Config; dataDir: string; log: Logger; connection: AuthConnection },
): Promise<{
  auth: AuthService;
  proxyId: string;
  identity: LoadedIdentity;
  /** Renewed identities go here from now on. */
  onRenewed(listener: (identity: LoadedIdentity) => void): void;
  close(): void;
}> {
  const { config, dataDir, log, connection } = options;
  if (connection.servers.length === 0) {
    throw new BadRequest(
      "A proxy of its own needs its auth servers: --auth-server host:3025 (or proxy.auth_servers).",
    );
  }
  const path = identityFile(join(dataDir, "identity"));
  let identity = await readIdentity(path);
  if (identity && identity.expires.getTime() <= Date.now()) {
    if (!connection.token) {
      throw new BadRequest(
        `This proxy's cluster identity expired at ${identity.expires.toISOString()}; start it with a new --token from \`postern tokens add --type proxy\`.`,
      );
    }
    identity = null;
  }
  if (!identity) {
    if (!connection.token || !connection.caPin) {
      throw new BadRequest(
        "This proxy has not joined the cluster yet: start it with --token <token> --ca-pin <pin>, both printed by `postern tokens add --type proxy` on the auth server.",
      );
    }
    const web = parseHostPort(config.proxy.web_listen_addr)!;
    const ssh = parseHostPort(config.proxy.ssh_listen_addr)!;
    identity = await joinCluster({
      servers: connection.servers,
      token: connection.token,
      caPin: connection.caPin,
      request: {
        id: `${publicHost(config)}:${web.port}-${crypto.randomUUID().slice(0, 8)}`,
        publicAddr: config.proxy.public_addr ?? `${Deno.hostname()}:${web.port}`,
        sshPublicAddr: config.proxy.ssh_public_addr ?? `${Deno.hostname()}:${ssh.port}`,
      },
    });
    await writeIdentity(path, identity);
    log.info("joined the cluster", { identity: path, expires: identity.expires.toISOString() });
  }
  const api = new AuthApiClient(connection.servers, identity);
  const auth = await connectRemoteAuth(api).catch((error) => {
    api.close();
    throw error;
  });
  let listener: (identity: LoadedIdentity) => void = () => {};
  const stopRenewing = keepRenewed({
    api,
    identity,
    path,
    log: log.child("identity"),
    onRenewed: (renewed) => listener(renewed),
  });
  return {
    auth,
    proxyId: identityId(identity),
    identity,
    onRenewed: (next) => listener = next,
    close() {
      stopRenewing();
      api.close();
    },
  };
}

/** Starts the proxy role against `auth` (in this process or reached through the Auth API). */
export async function startProxyRole(options: {
  config: Config;
  dataDir: string;
  log: Logger;
  auth: AuthService;
  /** Where recordings are written; auth's own directory in a single process. */
  recordingDir: string;
  /** True when the proxy has its own process and uploads its recordings. */
  uploadRecordings: boolean;
  proxyId: string;
  /** The proxy's cluster identity: its peer listener presents it, its peer links use it. */
  identity: ApiIdentity;
}): Promise<ProxyRole> {
  const { config, dataDir, log, auth } = options;
  const loadTls = (config: Config) =>
    loadTlsMaterial({
      dataDir,
      certFile: config.tls.cert_file,
      keyFile: config.tls.key_file,
      publicHost: publicHost(config),
      log,
    });
  const tls = await loadTls(config);
  checkOpenFileLimit(config.proxy.max_connections, log);
  const hostKey = await loadOrCreateHostKey(dataDir, log);
  const hub = new SessionHub();
  const connections = new LiveConnections();
  const recordings = new ProxyRecordings({
    dir: options.recordingDir,
    upload: options.uploadRecordings,
    auth,
    log: log.child("recordings"),
  });
  const stopFollowing = await followRevocations(auth, connections, log.child("revocations"));
  const stopBeating = heartbeat(auth, hub, options.proxyId, log.child("sessions"));
  const algorithms = siteAlgorithms(config.proxy.ssh_algorithms);
  const nodeStatus = new NodeStatus({ timeoutMs: Math.min(config.proxy.dial_timeout, 5_000) });
  const deps: NodeSessionDeps = {
    auth,
    hub,
    connections,
    log: log.child("session"),
    recordings,
    proxyId: options.proxyId,
    peer: { proxyId: options.proxyId, identity: options.identity },
    recordInput: config.recording.record_input,
    maxRecordingBytes: config.recording.max_bytes_per_session,
    minFreeBytes: config.recording.min_free_bytes,
    dialTimeoutMs: config.proxy.dial_timeout,
    nodeAlgorithms: algorithms.node,
    nodeStatus,
  };
  const tunnelDeps = {
    auth,
    connections,
    log: log.child("tunnel"),
    dialTimeoutMs: config.proxy.dial_timeout,
    fastPath: config.proxy.tunnel_fast_path,
  };
  const webAddr = parseHostPort(config.proxy.web_listen_addr)!;
  const sshAddr = parseHostPort(config.proxy.ssh_listen_addr)!;
  let ssh: SshServer | undefined;
  let web: WebServer | undefined;
  let peer: PeerServer | undefined;
  try {
    peer = await startPeerServer({
      ...parseHostPort(config.proxy.peer_listen_addr)!,
      cluster: auth.cluster,
      identity: options.identity,
      deps,
      log: log.child("peer"),
    });
    ssh = startSshServer({
      ...sshAddr,
      hostKey: hostKey.privateKey,
      hostCertificate: await auth.signProxyHostCertificate(
        hostKey.publicKey,
        proxyHostNames(config),
      ),
      maxConnections: config.proxy.max_connections,
      loginGraceMs: config.proxy.login_grace_time,
      maxUnauthenticatedPerAddress: config.proxy.max_unauthenticated_per_address,
      algorithms: algorithms.gateway,
      log: log.child("ssh"),
      onClient: createGateway(deps, {
        maxSessionsPerConnection: config.proxy.max_sessions_per_connection,
      }),
    });
    web = await startWebServer({
      ...webAddr,
      cert: tls.cert,
      key: tls.key,
      log: log.child("web"),
      handshakeTimeoutMs: config.proxy.tls_handshake_timeout,
      headerTimeoutMs: config.proxy.request_header_timeout,
      idleTimeoutMs: config.proxy.keep_alive_timeout,
      notReadyReason: async () =>
        ssh?.health.notAcceptingReason() ?? web?.health?.notAcceptingReason() ??
          await auth.notReadyReason(),
      routes(router) {
        pingRoute(router, {
          cluster: auth.cluster,
          sshPublicAddr: config.proxy.ssh_public_addr,
          sshPort: sshAddr.port === 0 ? ssh!.addr.port : sshAddr.port,
          sshHostKey: hostKey.publicKey,
          secondFactor: config.auth.second_factor,
          passwordless: config.auth.passwordless,
          connectors: config.auth.connectors.map((c) => ({
            name: c.name,
            display: c.display ?? c.name,
          })),
        });
        const checked = authRoutes(
          router,
          auth,
          new FailureLimiter({
            limit: config.proxy.max_failures_per_address,
            windowMs: config.proxy.failure_window,
          }),
        );
        securityKeyRoutes(router, auth, checked);
        ssoRoutes(router, auth, log.child("sso"), config.proxy.public_addr);
        cliLoginRoutes(router, auth, checked);
        resourceRoutes(router, auth, hub, recordings, nodeStatus);
        userRoutes(router, auth);
        terminalRoutes(router, deps, config);
        fileRoutes(router, deps, config.proxy.web_file_transfer_limit);
        tunnelRoute(router, tunnelDeps);
      },
      protocols: {
        [TUNNEL_ALPN]: (conn, remote) => serveRawTunnel(conn, remote, tunnelDeps),
      },
      onTicket: config.proxy.tunnel_fast_path
        ? (conn, ticket, rest) => serveTicketTunnel(conn, ticket, rest, tunnelDeps)
        : undefined,
    });
    const here = Deno.hostname();
    await auth.registerProxy({
      id: options.proxyId,
      publicAddr: config.proxy.public_addr ?? `${here}:${web.addr.port}`,
      sshPublicAddr: config.proxy.ssh_public_addr ?? `${here}:${ssh.addr.port}`,
      peerAddr: config.proxy.peer_public_addr ?? `${here}:${peer.addr.port}`,
    });
  } catch (error) {
    stopFollowing();
    stopBeating();
    recordings.close();
    await web?.shutdown();
    await ssh?.shutdown();
    await peer?.close();
    throw error;
  }
  const [webServer, sshServer, peerServer] = [web, ssh, peer];
  certificateExpiry.set({ certificate: "tls" }, tls.notAfter.getTime() / 1000);
  showIdentityExpiry(options.identity);
  const role: ProxyRole = {
    web: webServer,
    ssh: sshServer,
    tls,
    hub,
    hostPublicKey: hostKey.publicKey,
    useIdentity(identity) {
      showIdentityExpiry(identity);
      deps.peer = { proxyId: options.proxyId, identity };
      peerServer.useIdentity(identity);
    },
    async reloadTls(config) {
      const next = await loadTls(config);
      if (next.fingerprint === role.tls.fingerprint) return;
      if (!webServer.useCertificate) {
        log.warn("this Deno cannot change the HTTPS certificate while running; restart postern");
        return;
      }
      await webServer.useCertificate(next.cert, next.key);
      role.tls = next;
      certificateExpiry.set({ certificate: "tls" }, next.notAfter.getTime() / 1000);
      log.info("HTTPS certificate reloaded", {
        sha256: next.fingerprint,
        expires: next.notAfter.toISOString(),
      });
    },
    async stop() {
      stopFollowing();
      stopBeating();
      await hub.endAll("postern is shutting down; reconnect in a moment.");
      await Promise.all([webServer.shutdown(), sshServer.shutdown(), peerServer.close()]);
      recordings.close();
    },
  };
  return role;
}

/** Shows when the proxy's cluster identity expires in `postern_certificate_expiry_timestamp_seconds`. */
function showIdentityExpiry(identity: ApiIdentity): void {
  const expires = new Date(new X509Certificate(identity.cert).validTo);
  certificateExpiry.set({ certificate: "identity" }, expires.getTime() / 1000);
}

/** Starts the given roles; throws a PosternError with a clear message when it cannot. */
export async function startPostern(options: StartOptions): Promise<Postern> {
  const { config, log } = options;
  const roles = new Set<Role>(options.roles ?? ["auth", "proxy"]);
  const metricsAddr = config.metrics.listen_addr && parseHostPort(config.metrics.listen_addr);
  const metrics = metricsAddr
    ? startMetricsServer({ ...metricsAddr, log: log.child("metrics") })
    : undefined;
  try {
    const running = await startRoles(options, roles);
    return {
      ...running,
      metrics,
      async stop() {
        await running.stop();
        await metrics?.close();
      },
    };
  } catch (error) {
    await metrics?.close();
    throw error;
  }
}

/** Starts the roles of {@linkcode startPostern}. */
async function startRoles(options: StartOptions, roles: Set<Role>): Promise<Postern> {
  const { config, dataDir, log } = options;
  // The proxy beside auth keeps one id across restarts (whatever its ports),
  // so the next start ends what a killed run left open.
  const localProxyId = `local@${Deno.hostname()}`;
  const authRole = roles.has("auth")
    ? await startAuthRole({
      config,
      dataDir,
      log,
      localProxyId: roles.has("proxy") ? localProxyId : undefined,
    })
    : undefined;
  let proxy: ProxyRole | undefined;
  let remote: Awaited<ReturnType<typeof connectToAuth>> | undefined;
  try {
    if (roles.has("proxy")) {
      let auth: AuthService;
      let proxyId: string;
      let identity: ApiIdentity;
      if (authRole) {
        auth = authRole.auth;
        proxyId = localProxyId;
        identity = await localIdentity(authRole.auth, proxyId);
      } else {
        const connected = await connectToAuth({
          config,
          dataDir,
          log: log.child("auth-client"),
          connection: options.authConnection ?? { servers: config.proxy.auth_servers },
        });
        remote = connected;
        ({ auth, proxyId, identity } = connected);
      }
      proxy = await startProxyRole({
        config,
        dataDir,
        log,
        auth,
        // Beside auth with recordings on local disk, the proxy writes them there;
        // else it spools them in its data dir and ships them to auth.
        recordingDir: authRole?.auth.recordingDir ?? join(dataDir, "recordings"),
        uploadRecordings: !authRole?.auth.recordingDir,
        proxyId,
        identity,
      });
      const started = proxy;
      remote?.onRenewed((renewed) => started.useIdentity(renewed));
    }
    if (authRole) await bootstrapAdmin(authRole.auth, log);
  } catch (error) {
    remote?.close();
    await authRole?.stop();
    throw error;
  }
  return {
    authRole,
    proxy,
    async reload(config) {
      await authRole?.auth.reloadRolesAndNodes(config);
      await proxy?.reloadTls(config);
    },
    async stop() {
      await proxy?.stop();
      remote?.close();
      await authRole?.stop();
    },
  };
}
