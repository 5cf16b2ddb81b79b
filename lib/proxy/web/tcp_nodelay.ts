/**
 * TCP_NODELAY on the HTTPS listener, which Deno gives no way to set.
 *
 * Why: Deno 2.9.6 leaves Nagle's algorithm on for connections accepted by
 * `Deno.listenTls` (and by `Deno.serve` with TLS). Nagle holds a
 * connection's second small write until the client acknowledges the first,
 * and a client delays that acknowledgement by up to 40 ms: after the TLS
 * handshake the server writes its session tickets, then the response, so a
 * new connection's first response waited. Measured on `/healthz` with a new
 * connection each time: 17 to 29 of 30 took 40-90 ms (mean 38-48 ms); with
 * TCP_NODELAY none did (mean 2-3 ms). It cost `postern start` → first
 * `/healthz`, every CLI command (each opens a connection) and each browser
 * connection.
 *
 * How: Linux copies a listening socket's TCP_NODELAY to the sockets it
 * accepts, so it is set once on the listener, found among this process's
 * descriptors (`/proc/self/fd`) as the listening socket bound to its port,
 * with libc's `getsockopt`, `getsockname` and `setsockopt` through FFI
 * (not by reading /proc/net/tcp, which lists every socket of the host: 55 ms
 * with 4,000 of them). Best effort: off Linux, without glibc, or without the
 * FFI or read permission, nothing changes but latency. Guarded by
 * tests/unit/web_tcp_nodelay_test.ts.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  IPPROTO_TCP,
  libcSocketCalls,
  SO_ACCEPTCONN,
  type SocketCalls,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../../net/libc_sockets.ts";

let libc: SocketCalls | null | undefined;

/** glibc's socket option calls, looked up once; null where they cannot be. */
function socketCalls(): SocketCalls | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    libc = libcSocketCalls();
  } catch {
    // musl or no libc.so.6: Nagle stays on.
  }
  return libc;
}

/** Whether descriptor `fd` is a socket listening on TCP `port` (IPv4 or IPv6). */
function isListenerOn(calls: SocketCalls, fd: number, port: number): boolean {
  const value = new Int32Array(1);
  const size = new Uint32Array([4]);
  const listening = calls.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, value, size) === 0 &&
    value[0] === 1;
  if (!listening) return false;
  // sockaddr_in and sockaddr_in6 both keep the port, big-endian, at bytes 2-3.
  const address = new Uint8Array(128);
  const length = new Uint32Array([address.length]);
  if (calls.getsockname(fd, address, length) !== 0) return false;
  const family = address[0] | (address[1] << 8);
  return (family === AF_INET || family === AF_INET6) && ((address[2] << 8) | address[3]) === port;
}

/**
 * Sets TCP_NODELAY on this process's sockets listening on `port`, so that the
 * connections they accept have it too.
 *
 * @param port the listener's port
 * @returns how many listening sockets got it (0 where it cannot be done)
 * @example
 * ```ts
 * const listener = Deno.listenTls({ port: 3080, cert, key });
 * setListenerNoDelay(listener.addr.port);
 * ```
 */
export function setListenerNoDelay(port: number): number {
  const calls = socketCalls();
  if (!calls) return 0;
  let count = 0;
  try {
    const one = new Int32Array([1]);
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      } catch {
        continue; // closed meanwhile
      }
      const fd = Number(entry.name);
      if (!target.startsWith("socket:") || !isListenerOn(calls, fd, port)) continue;
      if (calls.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) === 0) count++;
    }
  } catch {
    // No read permission for /proc: Nagle stays on.
  }
  return count;
}
