/**
 * Composes one postern process: the auth role and the proxy role (HTTPS and
 * SSH listeners) over one data dir. `postern start` and integration tests use
 * it.
 *
 * @module
 */

import { type Config, proxyHostNames } from "./config/config.ts";
import { parseHostPort } from "./config/schema.ts";
import type { Logger } from "./log.ts";
import { loadTlsMaterial, type TlsMaterial } from "./tls/certificate.ts";
import { loadOrCreateHostKey } from "./proxy/ssh/host_key.ts";
import { startWebServer, type WebServer } from "./proxy/web/server.ts";
import { type SshServer, startSshServer } from "./proxy/ssh/server.ts";
import { createGateway } from "./proxy/ssh/gateway.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { LocalAuthService } from "./auth/local.ts";
import { probeHostCertificates, probeHostKey } from "./sshclient/probe.ts";
import { SessionHub } from "./session/hub.ts";
import { followRevocations, LiveConnections } from "./proxy/revocations.ts";
import { authRoutes } from "./proxy/web/api/auth_routes.ts";
import { FailureLimiter } from "./proxy/web/api/failure_limit.ts";
import { resourceRoutes } from "./proxy/web/api/resources.ts";
import { terminalRoutes } from "./proxy/web/terminal.ts";
import { pingRoute } from "./proxy/web/api/ping.ts";
import { tunnelRoute } from "./proxy/web/tunnel.ts";
import { serveRawTunnel } from "./proxy/web/raw_tunnel.ts";
import { TUNNEL_ALPN } from "./net/tunnel_protocol.ts";
import type { NodeSessionDeps } from "./proxy/node_session.ts";
import { checkOpenFileLimit } from "./proxy/file_limit.ts";

/** A running postern process. */
export interface Postern {
  web: WebServer;
  ssh: SshServer;
  tls: TlsMaterial;
  auth: LocalAuthService;
  hub: SessionHub;
  /** The proxy's SSH host public key line. */
  hostPublicKey: string;
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

/** Starts every role; throws a PosternError with a clear message when it cannot. */
export async function startPostern(
  options: { config: Config; dataDir: string; log: Logger },
): Promise<Postern> {
  const { config, dataDir, log } = options;
  if (config.auth.second_factor === "off") {
    log.warn(
      "auth.second_factor is off: logins need only a password. Do not run like this in production.",
    );
  }
  const tls = await loadTlsMaterial({
    dataDir,
    certFile: config.tls.cert_file,
    keyFile: config.tls.key_file,
    publicHost: publicHost(config),
    log,
  });
  checkOpenFileLimit(config.proxy.max_connections, log);
  const hostKey = await loadOrCreateHostKey(dataDir, log);
  const { auth, close: closeAuth } = await openAuth({ config, dataDir, log });
  const abandoned = await auth.endAbandonedSessions("proxy restarted");
  if (abandoned > 0) {
    log.warn("ended sessions a previous run left open (it stopped without ending them)", {
      sessions: abandoned,
    });
  }
  const sweeper = sweepExpired(auth, log);
  const hub = new SessionHub();
  const connections = new LiveConnections();
  const stopFollowing = await followRevocations(auth, connections, log.child("revocations"));
  const deps: NodeSessionDeps = {
    auth,
    hub,
    connections,
    log: log.child("session"),
    dataDir,
    recordInput: config.recording.record_input,
    maxRecordingBytes: config.recording.max_bytes_per_session,
    minFreeBytes: config.recording.min_free_bytes,
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
      loginGraceMs: config.proxy.login_grace_time,
      maxUnauthenticatedPerAddress: config.proxy.max_unauthenticated_per_address,
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
        });
        authRoutes(
          router,
          auth,
          new FailureLimiter({
            limit: config.proxy.max_failures_per_address,
            windowMs: config.proxy.failure_window,
          }),
        );
        resourceRoutes(router, auth, auth, hub);
        terminalRoutes(router, deps, config);
        tunnelRoute(router, tunnelDeps);
      },
      protocols: {
        [TUNNEL_ALPN]: (conn, remote) => serveRawTunnel(conn, remote, tunnelDeps),
      },
    });
    // Where users reach this proxy, for invite links made without its config.
    const here = Deno.hostname();
    await auth.registerProxy({
      id: `${here}:${web.addr.port}`,
      publicAddr: config.proxy.public_addr ?? `${here}:${web.addr.port}`,
      sshPublicAddr: config.proxy.ssh_public_addr ?? `${here}:${ssh.addr.port}`,
    });
    await bootstrapAdmin(auth, log);
  } catch (error) {
    clearInterval(sweeper);
    stopFollowing();
    await web?.shutdown();
    await ssh?.shutdown();
    await closeAuth();
    throw error;
  }
  const [webServer, sshServer] = [web, ssh];
  return {
    web: webServer,
    ssh: sshServer,
    tls,
    auth,
    hub,
    hostPublicKey: hostKey.publicKey,
    async stop() {
      clearInterval(sweeper);
      stopFollowing();
      await hub.endAll("postern is shutting down; reconnect in a moment.");
      await Promise.all([webServer.shutdown(), sshServer.shutdown()]);
      await closeAuth();
    },
  };
}
