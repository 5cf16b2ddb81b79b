/**
 * A TCP socket made with the C library through Deno FFI, for OpenSSH's
 * `ProxyUseFdpass`: the ProxyCommand connects, and instead of copying bytes
 * between the socket and its stdio for the whole session, hands the
 * connected descriptor to ssh over its stdout (a Unix socket) with
 * `SCM_RIGHTS` and exits. Deno's own sockets cannot do that: they never show
 * their descriptors.
 *
 * Calls block the calling thread: this is for a short-lived helper process
 * that has nothing else to do meanwhile. Struct layouts are those of 64-bit
 * Linux (x86-64 and aarch64 alike).
 *
 * @module
 */

import { Unavailable } from "../errors.ts";
import {
  AF_INET,
  AF_INET6,
  IPPROTO_TCP,
  lastSocketError,
  libcSocketCalls,
  SCM_RIGHTS,
  SO_RCVTIMEO,
  SO_SNDTIMEO,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  type SocketCalls,
  SOL_SOCKET,
  TCP_NODELAY,
} from "../net/libc_sockets.ts";

/** The C library's socket calls, or a clear error where there are none. */
function openLibc(): SocketCalls {
  try {
    return libcSocketCalls();
  } catch (error) {
    throw new Unavailable(
      `Cannot pass a socket to ssh here (${(error as Error).message}); ` +
        "remove ProxyUseFdpass and --fdpass from your ssh configuration.",
      { cause: error },
    );
  }
}

/** A connected TCP socket's descriptor, owned by this process until it is passed on. */
export class FdSocket {
  private constructor(private readonly c: SocketCalls, readonly fd: number) {}

  /**
   * Connects to an IP address (no name lookup: pass the address another
   * connection to the same place resolved to).
   *
   * @param address IPv4 or IPv6 literal
   * @param port TCP port
   * @param options `localAddress` binds the socket first; `timeoutMs` bounds
   *   the connect and every later read and write
   * @throws Unavailable naming the address when the connection fails
   */
  static connect(
    address: string,
    port: number,
    options: { localAddress?: string; timeoutMs?: number } = {},
  ): FdSocket {
    const c = openLibc();
    const remote = socketAddress(address, port);
    const fd = c.socket(remote.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Unavailable(`Cannot make a socket: ${lastSocketError(c)}.`);
    const socket = new FdSocket(c, fd);
    try {
      const timeout = timeval(options.timeoutMs ?? 30_000);
      socket.#check(c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, timeout.length), "set");
      socket.#check(c.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, timeout.length), "set");
      const one = new Int32Array([1]);
      const noDelay = new Uint8Array(one.buffer);
      socket.#check(c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, noDelay, 4), "set");
      if (options.localAddress) {
        const local = socketAddress(options.localAddress, 0);
        socket.#check(
          c.bind(fd, local.bytes, local.bytes.length),
          `bind to ${options.localAddress}`,
        );
      }
      const where = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
      socket.#check(c.connect(fd, remote.bytes, remote.bytes.length), `connect to ${where}`);
    } catch (error) {
      socket.close();
      throw error;
    }
    return socket;
  }

  /** Writes all of `data`. */
  writeAll(data: Uint8Array<ArrayBuffer>): void {
    let offset = 0;
    while (offset < data.length) {
      const rest = data.subarray(offset);
      const n = Number(this.c.write(this.fd, rest, BigInt(rest.length)));
      this.#check(n, "write to the proxy");
      offset += n;
    }
  }

  /**
   * Reads one line, byte by byte so that nothing after it is consumed.
   *
   * @param maxBytes longest line accepted
   * @returns the line without its LF, or null if the connection ended first
   */
  readLine(maxBytes: number): string | null {
    const bytes: number[] = [];
    const one = new Uint8Array(1);
    while (bytes.length < maxBytes) {
      const n = Number(this.c.read(this.fd, one, 1n));
      this.#check(n, "read from the proxy");
      if (n === 0) return null;
      if (one[0] === 10) return new TextDecoder().decode(new Uint8Array(bytes));
      bytes.push(one[0]);
    }
    throw new Unavailable("The proxy sent an overlong answer.");
  }

  /**
   * Sends this socket's descriptor over the Unix socket `unixFd` (ssh's end
   * of the ProxyCommand's stdout), with the one byte of data OpenSSH reads
   * with it; clears the read and write timeouts first.
   */
  passTo(unixFd: number): void {
    const none = timeval(0);
    this.#check(this.c.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, none, none.length), "set");
    this.#check(this.c.setsockopt(this.fd, SOL_SOCKET, SO_SNDTIMEO, none, none.length), "set");
    const data = new Uint8Array(1);
    const iov = new Uint8Array(16);
    const iovView = new DataView(iov.buffer);
    iovView.setBigUint64(0, pointerValue(data), true);
    iovView.setBigUint64(8, 1n, true);
    // cmsghdr: cmsg_len (CMSG_LEN(4) = 20), cmsg_level, cmsg_type, the descriptor; padded to 24.
    const control = new Uint8Array(24);
    const controlView = new DataView(control.buffer);
    controlView.setBigUint64(0, 20n, true);
    controlView.setInt32(8, SOL_SOCKET, true);
    controlView.setInt32(12, SCM_RIGHTS, true);
    controlView.setInt32(16, this.fd, true);
    // msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    const message = new Uint8Array(56);
    const view = new DataView(message.buffer);
    view.setBigUint64(16, pointerValue(iov), true);
    view.setBigUint64(24, 1n, true);
    view.setBigUint64(32, pointerValue(control), true);
    view.setBigUint64(40, BigInt(control.length), true);
    const sent = Number(this.c.sendmsg(unixFd, message, 0));
    if (sent !== 1) {
      throw new Unavailable(
        `Cannot pass the connection to ssh (${lastSocketError(this.c)}); ` +
          "is ProxyUseFdpass yes set for this host?",
      );
    }
  }

  /** Closes this process's copy of the descriptor. */
  close(): void {
    this.c.close(this.fd);
  }

  #check(result: number, what: string): void {
    if (result >= 0) return;
    throw new Unavailable(`Cannot ${what}: ${lastSocketError(this.c)}.`);
  }
}

/** A `sockaddr_in` or `sockaddr_in6` for an address literal. */
function socketAddress(address: string, port: number): { family: number; bytes: Uint8Array } {
  const v4 = parseIpv4(address);
  if (v4) {
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setUint16(0, AF_INET, true);
    new DataView(bytes.buffer).setUint16(2, port, false);
    bytes.set(v4, 4);
    return { family: AF_INET, bytes };
  }
  const v6 = parseIpv6(address);
  if (!v6) throw new Unavailable(`"${address}" is not an IP address.`);
  const bytes = new Uint8Array(28);
  new DataView(bytes.buffer).setUint16(0, AF_INET6, true);
  new DataView(bytes.buffer).setUint16(2, port, false);
  bytes.set(v6, 8);
  return { family: AF_INET6, bytes };
}

/** Four bytes of a dotted IPv4 address, or undefined. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) {
    return undefined;
  }
  return new Uint8Array(parts.map(Number));
}

/** Sixteen bytes of an IPv6 address (`::` and a trailing dotted IPv4 allowed), or undefined. */
export function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.replace(/%.*$/, "").split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    for (const piece of half.split(":")) {
      const v4 = piece.includes(".") ? parseIpv4(piece) : undefined;
      if (v4) {
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** A `struct timeval` of `ms` (0: no timeout). */
function timeval(ms: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
  view.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
  return bytes;
}

function pointerValue(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}
