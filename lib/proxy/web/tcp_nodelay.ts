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
 * descriptors (`/proc/self/fd`) by its port in `/proc/net/tcp` and
 * `/proc/net/tcp6`, with libc's `setsockopt` through FFI. Best effort: off
 * Linux, without glibc, or without the FFI or read permission, nothing
 * changes but latency. Guarded by tests/unit/web_tcp_nodelay_test.ts.
 *
 * @module
 */

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
/** `st` of a listening socket in /proc/net/tcp. */
const TCP_LISTEN = "0A";

type SetSockOpt = (
  fd: number,
  level: number,
  name: number,
  value: Uint8Array,
  size: number,
) => number;

let setsockopt: SetSockOpt | null | undefined;

/** glibc's `setsockopt`, looked up once; null where it cannot be. */
function libcSetsockopt(): SetSockOpt | null {
  if (setsockopt !== undefined) return setsockopt;
  setsockopt = null;
  if (Deno.build.os !== "linux") return null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    const lib = Deno.dlopen("libc.so.6", {
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
    });
    setsockopt = lib.symbols.setsockopt;
  } catch {
    // musl or no libc.so.6: Nagle stays on.
  }
  return setsockopt;
}

/** Inodes of the sockets listening on TCP `port` (any address), from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (!local || fields[3] !== TCP_LISTEN) continue;
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port) inodes.add(fields[9]);
    }
  }
  return inodes;
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
  const set = libcSetsockopt();
  if (!set) return 0;
  let count = 0;
  try {
    const inodes = listeningInodes(port);
    if (inodes.size === 0) return 0;
    const one = new Uint8Array(new Int32Array([1]).buffer);
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      let target: string;
      try {
        target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      } catch {
        continue; // closed meanwhile
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) {
        if (set(Number(entry.name), IPPROTO_TCP, TCP_NODELAY, one, one.length) === 0) count++;
      }
    }
  } catch {
    // No read permission for /proc: Nagle stays on.
  }
  return count;
}
