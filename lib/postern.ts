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
import { BadRequest } from "./errors.ts";
import type { Logger } from "./log.ts";
import { loadTlsMaterial, type TlsMaterial } from "./tls/certificate.ts";
import { loadOrCreateHostKey } from "./proxy/ssh/host_key.ts";
import { startWebServer, type WebServer } from "./proxy/web/server.ts";
import { type SshServer, startSshServer } from "./proxy/ssh/server.ts";
import { createGateway } from "./proxy/ssh/gateway.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { LocalAuthService } from "./auth/local.ts";
import type { AuthService } from "./auth/service.ts";
import { type AuthApiServer, startAuthApi } from "./auth/api/server.ts";
import { AuthApiClient, connectRemoteAuth } from "./auth/api/client.ts";
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
import { FailureLimiter } from "./proxy/web/api/failure_limit.ts";
import { resourceRoutes } from "./proxy/web/api/resources.ts";
import { userRoutes } from "./proxy/web/api/user_routes.ts";
import { terminalRoutes } from "./proxy/web/terminal.ts";
import { pingRoute } from "./proxy/web/api/ping.ts";
import { tunnelRoute } from "./proxy/web/tunnel.ts";
import { serveRawTunnel } from "./proxy/web/raw_tunnel.ts";
import { TUNNEL_ALPN } from "./net/tunnel_protocol.ts";
import type { NodeSessionDeps } from "./proxy/node_session.ts";
import { ProxyRecordings } from "./proxy/recordings.ts";

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
  const store = SqliteStore.open(options.dataDir);
  try {
    const probe = { hostKey: probeHostKey, hostCertificates: probeHostCertificates };
    const auth = await LocalAuthService.open({ ...options, store, probe });
    return {
      auth,
      async close() {
        await auth.close();
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Prints an invite for the first admin when there are no users yet. */
async function bootstrapAdmin(auth: LocalAuthService, log: Logger): Promise<void> {
  if ((await auth.listUsers()).length > 0) return;
  const invite = await auth.addUser(
    { name: "admin", roles: ["admin"], logins: ["root"] },
    "postern",
  );
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

/** Deletes what has expired now and every {@linkcode SWEEP_MS}. */
function sweepExpired(auth: LocalAuthService, log: Logger): ReturnType<typeof setInterval> {
  const sweep = () =>
    auth.deleteExpired().then(
      (deleted) => deleted.webSessions > 0 && log.info("deleted expired web sessions", deleted),
      (error) => log.warn("cannot delete expired records", { error: String(error) }),
    );
  void sweep();
  return setInterval(sweep, SWEEP_MS);
}

/** Starts the auth role: the store, the CAs, the Auth API listener. */
export async function startAuthRole(
  options: { config: Config; dataDir: string; log: Logger; withProxy: boolean },
): Promise<AuthRole> {
  const { config, dataDir, log } = options;
  if (config.auth.second_factor === "off") {
    log.warn(
      "auth.second_factor is off: logins need only a password. Do not run like this in production.",
    );
  }
  const { auth, close } = await openAuth({ config, dataDir, log });
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let api: AuthApiServer;
  try {
    await auth.reconcileConfigNodes();
    // Only a single-process install knows its sessions were all on the proxy
    // that stopped; with proxies of their own, sessions outlive an auth restart.
    if (options.withProxy) {
      const abandoned = await auth.endAbandonedSessions("proxy restarted");
      if (abandoned > 0) {
        log.warn("ended sessions a previous run left open (it stopped without ending them)", {
          sessions: abandoned,
        });
      }
    }
    sweeper = sweepExpired(auth, log);
    api = await startAuthApi({
      ...parseHostPort(config.auth.listen_addr)!,
      auth,
      log: log.child("api"),
    });
  } catch (error) {
    clearInterval(sweeper);
    await close();
    throw error;
  }
  log.info("cluster CA pin (proxies join with it)", { ca_pin: auth.tlsCa.pin });
  return {
    auth,
    api,
    async stop() {
      clearInterval(sweeper);
      await api.close();
      await close();
    },
  };
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
): Promise<{ auth: AuthService; proxyId: string; close(): void }> {
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
  const stopRenewing = keepRenewed({ api, identity, path, log: log.child("identity") });
  return {
    auth,
    proxyId: identityId(identity),
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
}): Promise<ProxyRole> {
  const { config, dataDir, log, auth } = options;
  const tls = await loadTlsMaterial({
    dataDir,
    certFile: config.tls.cert_file,
    keyFile: config.tls.key_file,
    publicHost: publicHost(config),
    log,
  });
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
  const deps: NodeSessionDeps = {
    auth,
    hub,
    connections,
    log: log.child("session"),
    recordings,
    recordInput: config.recording.record_input,
    dialTimeoutMs: config.proxy.dial_timeout,
  };
  const tunnelDeps = {
    auth,
    connections,
    log: log.child("tunnel"),
    dialTimeoutMs: config.proxy.dial_timeout,
  };
  const webAddr = parseHostPort(config.proxy.web_listen_addr)!;
  const sshAddr = parseHostPort(config.proxy.ssh_listen_addr)!;
  let ssh: SshServer | undefined;
  let web: WebServer | undefined;
  try {
    ssh = startSshServer({
      ...sshAddr,
      hostKey: hostKey.privateKey,
      hostCertificate: await auth.signProxyHostCertificate(
        hostKey.publicKey,
        proxyHostNames(config),
      ),
      maxConnections: config.proxy.max_connections,
      log: log.child("ssh"),
      onClient: createGateway(deps),
    });
    web = await startWebServer({
      ...webAddr,
      cert: tls.cert,
      key: tls.key,
      log: log.child("web"),
      notReadyReason: () => auth.notReadyReason(),
      routes(router) {
        pingRoute(router, {
          cluster: auth.cluster,
          sshPublicAddr: config.proxy.ssh_public_addr,
          sshPort: sshAddr.port === 0 ? ssh!.addr.port : sshAddr.port,
          sshHostKey: hostKey.publicKey,
        });
        authRoutes(
          router,
          auth,
          new FailureLimiter({
            limit: config.proxy.max_failures_per_address,
            windowMs: config.proxy.failure_window,
          }),
        );
        resourceRoutes(router, auth, hub, recordings);
        userRoutes(router, auth);
        terminalRoutes(router, deps, config);
        tunnelRoute(router, tunnelDeps);
      },
      protocols: {
        [TUNNEL_ALPN]: (conn, remote) => serveRawTunnel(conn, remote, tunnelDeps),
      },
    });
    const here = Deno.hostname();
    await auth.registerProxy({
      id: options.proxyId,
      publicAddr: config.proxy.public_addr ?? `${here}:${web.addr.port}`,
      sshPublicAddr: config.proxy.ssh_public_addr ?? `${here}:${ssh.addr.port}`,
    });
  } catch (error) {
    stopFollowing();
    recordings.close();
    await web?.shutdown();
    await ssh?.shutdown();
    throw error;
  }
  const [webServer, sshServer] = [web, ssh];
  return {
    web: webServer,
    ssh: sshServer,
    tls,
    hub,
    hostPublicKey: hostKey.publicKey,
    async stop() {
      stopFollowing();
      await hub.endAll("postern is shutting down; reconnect in a moment.");
      await Promise.all([webServer.shutdown(), sshServer.shutdown()]);
      recordings.close();
    },
  };
}

/** Starts the given roles; throws a PosternError with a clear message when it cannot. */
export async function startPostern(options: StartOptions): Promise<Postern> {
  const { config, dataDir, log } = options;
  const roles = new Set(options.roles ?? ["auth", "proxy"]);
  const authRole = roles.has("auth")
    ? await startAuthRole({ config, dataDir, log, withProxy: roles.has("proxy") })
    : undefined;
  let proxy: ProxyRole | undefined;
  let remote: { close(): void } | undefined;
  try {
    if (roles.has("proxy")) {
      let auth: AuthService;
      let proxyId: string;
      if (authRole) {
        auth = authRole.auth;
        proxyId = `${Deno.hostname()}:${parseHostPort(config.proxy.web_listen_addr)!.port}`;
      } else {
        const connected = await connectToAuth({
          config,
          dataDir,
          log: log.child("auth-client"),
          connection: options.authConnection ?? { servers: config.proxy.auth_servers },
        });
        remote = connected;
        ({ auth, proxyId } = connected);
      }
      proxy = await startProxyRole({
        config,
        dataDir,
        log,
        auth,
        recordingDir: authRole ? authRole.auth.recordingDir : join(dataDir, "recordings"),
        uploadRecordings: !authRole,
        proxyId,
      });
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
    async stop() {
      await proxy?.stop();
      remote?.close();
      await authRole?.stop();
    },
  };
}
