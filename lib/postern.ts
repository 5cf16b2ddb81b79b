/**
 * Composes one postern process: the auth role and the proxy role (HTTPS and
 * SSH listeners) over one data dir. `postern start` and integration tests use
 * it.
 *
 * @module
 */

import type { Config } from "./config/config.ts";
import { parseHostPort } from "./config/schema.ts";
import type { Logger } from "./log.ts";
import { loadTlsMaterial, type TlsMaterial } from "./tls/certificate.ts";
import { loadOrCreateHostKey } from "./proxy/ssh/host_key.ts";
import { startWebServer, type WebServer } from "./proxy/web/server.ts";
import { type SshServer, startSshServer } from "./proxy/ssh/server.ts";

/** A running postern process. */
export interface Postern {
  web: WebServer;
  ssh: SshServer;
  tls: TlsMaterial;
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

/** Starts every role; throws a PosternError with a clear message when it cannot. */
export async function startPostern(
  options: { config: Config; dataDir: string; log: Logger },
): Promise<Postern> {
  const { config, dataDir, log } = options;
  const tls = await loadTlsMaterial({
    dataDir,
    certFile: config.tls.cert_file,
    keyFile: config.tls.key_file,
    publicHost: publicHost(config),
    log,
  });
  const hostKey = await loadOrCreateHostKey(dataDir, log);
  const webAddr = parseHostPort(config.proxy.web_listen_addr)!;
  const sshAddr = parseHostPort(config.proxy.ssh_listen_addr)!;
  const ssh = startSshServer({
    ...sshAddr,
    hostKeys: [hostKey.privateKey],
    maxConnections: config.proxy.max_connections,
    log: log.child("ssh"),
    onClient(client) {
      client.on("authentication", (ctx) => ctx.reject(["publickey"]));
    },
  });
  let web: WebServer;
  try {
    web = await startWebServer({ ...webAddr, cert: tls.cert, key: tls.key, log: log.child("web") });
  } catch (error) {
    await ssh.shutdown();
    throw error;
  }
  return {
    web,
    ssh,
    tls,
    hostPublicKey: hostKey.publicKey,
    async stop() {
      await Promise.all([web.shutdown(), ssh.shutdown()]);
    },
  };
}
