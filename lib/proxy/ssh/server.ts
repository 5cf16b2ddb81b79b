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
import { acceptForever, AcceptHealth } from "../../net/accept.ts";
import { denoConnDuplex } from "../../net/conn_duplex.ts";
import { processTrimmer } from "../../memory/trimmer.ts";
import { installFastCiphers, reusePacketBuffers } from "../../net/ssh2_crypto.ts";
import { installChannelWindowFix } from "../../net/ssh2_channel_window.ts";
import { ssh2InternalsProblems } from "../../net/ssh2_internals.ts";
import type { Logger } from "../../log.ts";
import { listenError } from "../web/server.ts";
import { rateLimited } from "../../metrics/metrics.ts";
import { hostCertificateKey, presentHostCertificate } from "./host_cert.ts";
import { VERSION } from "../../version.ts";
import { GATEWAY_ALGORITHMS } from "../../net/ssh_algorithms.ts";
import { closeQuietly } from "../../net/close_quietly.ts";

/** Options for {@linkcode startSshServer}. */
export interface SshServerOptions {
  hostname: string;
  port: number;
  /** The host private key (OpenSSH PEM, ed25519). */
  hostKey: string;
  /** A host certificate for that key, signed by the host CA, offered beside the plain key. */
  hostCertificate?: string;
  /** What the gateway offers clients. @default GATEWAY_ALGORITHMS */
  algorithms?: ssh2.Algorithms;
  log: Logger;
  /** Most simultaneous connections; more are closed at once. */
  maxConnections: number;
  /**
   * A connection not authenticated this long after it was accepted (banner,
   * key exchange and authentication all count) is closed, like sshd's
   * `LoginGraceTime`.
   */
  loginGraceMs: number;
  /**
   * Most connections one source address (an IPv6 /64) may hold before they
   * are authenticated; more are closed at once, so that one address cannot
   * fill `maxConnections` with idle sockets.
   */
  maxUnauthenticatedPerAddress: number;
  /** Called for every new client connection with its remote address. */
  onClient(client: Connection, remote: { ip: string; port: number }): void;
}

/** A running SSH server. */
export interface SshServer {
  addr: Deno.NetAddr;
  /** Whether the listener is accepting (for /readyz). */
  health: AcceptHealth;
  /** Stops accepting and closes every open connection. */
  shutdown(): Promise<void>;
}

/**
 * ssh2's server pings every connection every 15 s by default: with 1,000 idle
 * sessions that is ~70 encrypted round trips a second, CPU spent on sessions
 * doing nothing (issue 17). ssh2 has no "off" for one server, so the interval
 * is the longest a timer may wait (24.8 days); TCP keep-alive finds dead peers
 * instead, in the kernel, like sshd's defaults.
 */
const NO_SSH_KEEPALIVE_MS = 2 ** 31 - 1;

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
  for (const problem of ssh2InternalsProblems()) options.log.warn(problem);
  const ciphers = installFastCiphers();
  options.log.debug("ssh ciphers through libcrypto", { ...ciphers });
  installChannelWindowFix();
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
    algorithms: options.algorithms ?? GATEWAY_ALGORITHMS,
    // Large packets and windows keep bulk transfers from stalling on acks.
    highWaterMark: 1 << 20,
    keepaliveInterval: NO_SSH_KEEPALIVE_MS,
  }, (client, info) => {
    client.once("ready", () => unauthenticated.authenticated(info));
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
  const unauthenticated = new UnauthenticatedConnections(options);
  const trimmer = processTrimmer;
  // A first trim once start-up (modules, keys, the other listeners) is over:
  // its garbage would otherwise stay until the first connection ends.
  trimmer.startUpDone();
  const tooMany = new ThrottledLog(options.log);
  const tooManyFromOne = new ThrottledLog(options.log);
  let stopping = false;
  const health = new AcceptHealth("SSH");
  const accepting = acceptForever(listener, {
    health,
    log: options.log,
    stopping: () => stopping,
    onConn(conn) {
      const remote = conn.remoteAddr as Deno.NetAddr;
      if (open.size >= options.maxConnections) {
        rateLimited.inc({ limit: "ssh_connections" });
        tooMany.warn("too many SSH connections; refusing", { limit: options.maxConnections });
        conn.close();
        return;
      }
      open.add(conn);
      const acceptedAt = performance.now();
      const start = () => {
        let pending: Pending | undefined;
        try {
          const socket = denoConnDuplex(conn);
          // Dead peers are found by the kernel, as sshd does by default
          // (TCPKeepAlive yes, ClientAliveInterval 0): see NO_SSH_KEEPALIVE_MS.
          socket.setKeepAlive(true);
          pending = unauthenticated.add(remote, acceptedAt, () => socket.destroy());
          socket.once("close", () => {
            open.delete(conn);
            trimmer.connectionEnded();
            pending?.release();
          });
          // ssh2 only uses the Duplex side and a few socket properties the adapter provides.
          server.injectSocket(socket as unknown as Socket);
        } catch (error) {
          options.log.warn("cannot set up SSH connection", { error: String(error) });
          pending?.release();
          open.delete(conn);
          closeQuietly(conn);
        }
      };
      const gaveUp = () => {
        open.delete(conn);
        closeQuietly(conn);
      };
      if (unauthenticated.admits(remote.hostname)) start();
      else if (!unauthenticated.wait(remote.hostname, acceptedAt, start, gaveUp)) {
        rateLimited.inc({ limit: "ssh_unauthenticated_per_address" });
        tooManyFromOne.warn("too many unauthenticated SSH connections from one address; refusing", {
          remote: remote.hostname,
          limit: options.maxUnauthenticatedPerAddress,
          waiting: options.maxUnauthenticatedPerAddress * WAITING_PER_SLOT,
        });
        gaveUp();
      }
    },
  });

  return {
    addr: listener.addr,
    health,
    async shutdown() {
      stopping = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      unauthenticated.clear();
      trimmer.stop();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await accepting;
    },
  };
}

/** A connection accepted but not authenticated yet. */
interface Pending {
  timer: ReturnType<typeof setTimeout>;
  /** Ends its pending state (authenticated, or closed). */
  release(): void;
}

/**
 * Connections one address may have waiting for an unauthenticated slot, per
 * slot (`max_unauthenticated_per_address`): a burst such as 100 `ssh` started
 * at once by one host (ansible, pssh) waits its turn instead of being refused,
 * while the handshakes one address can make the proxy do at once stay bounded.
 */
const WAITING_PER_SLOT = 10;

/** A connection waiting for an unauthenticated slot; no byte read from it yet. */
interface Waiting {
  start(): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Connections between accept and authentication, by source address: each is
 * closed when its login grace time runs out, and each address may hold only
 * so many at once; more wait for a slot (without their SSH handshake
 * starting, within the same grace time), up to {@link WAITING_PER_SLOT} per slot.
 */
class UnauthenticatedConnections {
  /** By remote "ip port", the key ssh2's connection info gives back. */
  #pending = new Map<string, Pending>();
  #perSource = new Map<string, number>();
  #waiting = new Map<string, Waiting[]>();
  #expiredLog: ThrottledLog;

  constructor(
    private readonly options: Pick<
      SshServerOptions,
      "loginGraceMs" | "maxUnauthenticatedPerAddress" | "log"
    >,
  ) {
    this.#expiredLog = new ThrottledLog(options.log);
  }

  /** Whether another unauthenticated connection from `ip` is allowed. */
  admits(ip: string): boolean {
    return (this.#perSource.get(sourceOf(ip)) ?? 0) < this.options.maxUnauthenticatedPerAddress;
  }

  /**
   * Queues a connection `ip` has no slot for: `start` runs when one frees,
   * `giveUp` when the login grace time (from `acceptedAt`) runs out first.
   *
   * @returns false when the address has too many waiting already
   */
  wait(ip: string, acceptedAt: number, start: () => void, giveUp: () => void): boolean {
    const source = sourceOf(ip);
    const queue = this.#waiting.get(source) ?? [];
    if (queue.length >= this.options.maxUnauthenticatedPerAddress * WAITING_PER_SLOT) return false;
    const waiting: Waiting = {
      start,
      timer: setTimeout(() => {
        this.#dequeue(source, waiting);
        giveUp();
      }, this.#graceLeft(acceptedAt)),
    };
    queue.push(waiting);
    this.#waiting.set(source, queue);
    return true;
  }

  /**
   * Starts the grace time of a new connection (from `acceptedAt`, waiting
   * included); `close` ends it when that runs out.
   */
  add(remote: Deno.NetAddr, acceptedAt: number, close: () => void): Pending {
    const key = `${remote.hostname} ${remote.port}`;
    const source = sourceOf(remote.hostname);
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    let released = false;
    const pending: Pending = {
      timer: setTimeout(() => {
        this.#expiredLog.info(
          "SSH connection not authenticated within the login grace time; closed",
          {
            remote: remote.hostname,
            grace_ms: this.options.loginGraceMs,
          },
        );
        pending.release();
        close();
      }, this.#graceLeft(acceptedAt)),
      release: () => {
        if (released) return;
        released = true;
        clearTimeout(pending.timer);
        this.#pending.delete(key);
        const left = (this.#perSource.get(source) ?? 1) - 1;
        if (left > 0) this.#perSource.set(source, left);
        else this.#perSource.delete(source);
        this.#startNext(source);
      },
    };
    this.#pending.set(key, pending);
    return pending;
  }

  #graceLeft(acceptedAt: number): number {
    return Math.max(0, this.options.loginGraceMs - (performance.now() - acceptedAt));
  }

  /** A slot of `source` freed: its longest-waiting connection starts. */
  #startNext(source: string): void {
    const next = this.#waiting.get(source)?.[0];
    if (!next) return;
    this.#dequeue(source, next);
    next.start();
  }

  #dequeue(source: string, waiting: Waiting): void {
    clearTimeout(waiting.timer);
    const queue = this.#waiting.get(source) ?? [];
    const at = queue.indexOf(waiting);
    if (at >= 0) queue.splice(at, 1);
    if (queue.length === 0) this.#waiting.delete(source);
  }

  /** The connection from `remote` has authenticated: its grace time no longer applies. */
  authenticated(remote: { ip: string; port: number }): void {
    this.#pending.get(`${remote.ip} ${remote.port}`)?.release();
  }

  /** Stops every grace timer and forgets waiting connections (at shutdown, which closes them). */
  clear(): void {
    for (const queue of this.#waiting.values()) {
      for (const waiting of queue) clearTimeout(waiting.timer);
    }
    this.#waiting.clear();
    for (const pending of [...this.#pending.values()]) pending.release();
  }
}

/**
 * The unit a per-address limit counts: an IPv4 address, or an IPv6 /64 (one
 * host usually has a whole /64 to pick addresses from).
 */
export function sourceOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(":")) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** How often a throttled line is logged at most; the others are counted into the next one. */
const THROTTLE_MS = 10_000;

/** One kind of log line that a flood of hostile connections must not turn into a flood. */
class ThrottledLog {
  #last = -Infinity;
  #unlogged = 0;

  constructor(private readonly log: Logger) {}

  warn(message: string, fields: Record<string, unknown>): void {
    this.#emit("warn", message, fields);
  }

  info(message: string, fields: Record<string, unknown>): void {
    this.#emit("info", message, fields);
  }

  #emit(level: "warn" | "info", message: string, fields: Record<string, unknown>): void {
    this.#unlogged++;
    if (Date.now() - this.#last < THROTTLE_MS) return;
    this.log[level](message, { ...fields, times: this.#unlogged });
    this.#last = Date.now();
    this.#unlogged = 0;
  }
}
