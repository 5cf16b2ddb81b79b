/**
 * The SSH listener on :3023: accepts TCP with `Deno.listen` (native sockets
 * are ~3× faster than Deno's node:net under ssh2) and hands each connection
 * to an npm:ssh2 Server through a Duplex over the `Deno.Conn`.
 *
 * What happens on a connection (authentication, tunnels, sessions) is the
 * `onClient` callback's job; this module only owns sockets and lifecycle.
 *
 * @module
 */

import ssh2 from "ssh2";
import type { Connection } from "ssh2";
import type { Socket } from "node:net";
import { denoConnDuplex } from "../../net/conn_duplex.ts";
import { installFastCiphers, reusePacketBuffers } from "../../net/ssh2_crypto.ts";
import type { Logger } from "../../log.ts";
import { listenError } from "../web/server.ts";
import { hostCertificateKey, presentHostCertificate } from "./host_cert.ts";
import { VERSION } from "../../version.ts";

/** Options for {@linkcode startSshServer}. */
export interface SshServerOptions {
  hostname: string;
  port: number;
  /** The host private key (OpenSSH PEM, ed25519). */
  hostKey: string;
  /** A host certificate for that key, signed by the host CA, offered beside the plain key. */
  hostCertificate?: string;
  log: Logger;
  /** Most simultaneous connections; more are closed at once. */
  maxConnections: number;
  /** Called for every new client connection with its remote address. */
  onClient(client: Connection, remote: { ip: string; port: number }): void;
}

/** A running SSH server. */
export interface SshServer {
  addr: Deno.NetAddr;
  /** Stops accepting and closes every open connection. */
  shutdown(): Promise<void>;
}

/** Starts listening; throws Unavailable naming the port when it cannot. */
export function startSshServer(options: SshServerOptions): SshServer {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (error) {
    throw listenError("SSH", options.hostname, options.port, error);
  }
  // AES-GCM and chacha20-poly1305 through libcrypto: the gateway's largest
  // per-byte cost otherwise (lib/net/ssh2_crypto.ts).
  const ciphers = installFastCiphers();
  options.log.debug("ssh ciphers through libcrypto", { ...ciphers });
  const certKey = options.hostCertificate
    ? hostCertificateKey(options.hostKey, options.hostCertificate)
    : undefined;
  if (options.hostCertificate && !certKey) {
    options.log.warn(
      "cannot offer the SSH host certificate with this ssh2 version; offering the key only",
    );
  }
  const server = new ssh2.Server({
    hostKeys: certKey
      ? [options.hostKey, { key: certKey as unknown as string }]
      : [options.hostKey],
    ident: `postern_${VERSION}`,
    // Large packets and windows keep bulk transfers from stalling on acks.
    highWaterMark: 1 << 20,
  }, (client, info) => {
    if (certKey) presentHostCertificate(client);
    reusePacketBuffers(client);
    client.on("error", (error) => {
      options.log.debug("ssh connection error", { remote: info.ip, error: String(error) });
    });
    options.onClient(client, { ip: info.ip, port: info.port });
  });
  server.on(
    "error",
    (error: Error) => options.log.warn("ssh server error", { error: String(error) }),
  );

  const open = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) {
      if (open.size >= options.maxConnections) {
        options.log.warn("too many SSH connections; refusing", { limit: options.maxConnections });
        conn.close();
        continue;
      }
      open.add(conn);
      try {
        const socket = denoConnDuplex(conn);
        socket.once("close", () => open.delete(conn));
        // ssh2 only uses the Duplex side and a few socket properties the adapter provides.
        server.injectSocket(socket as unknown as Socket);
      } catch (error) {
        options.log.warn("cannot set up SSH connection", { error: String(error) });
        open.delete(conn);
        conn.close();
      }
    }
  })().catch((error) => {
    if (!(error instanceof Deno.errors.BadResource)) {
      options.log.error("ssh listener failed", { error: String(error) });
    }
  });

  return {
    addr: listener.addr,
    async shutdown() {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}
