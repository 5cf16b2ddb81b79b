/**
 * The HTTPS port's front door: connections are accepted as plain TCP and told
 * apart by their first bytes, as Teleport's listener multiplexer does.
 *
 * - A TLS ClientHello goes on to the TLS listener (tls_listener.ts), which
 *   listens on loopback only: the door pipes the connection to it and tells
 *   it the client's real address ({@link Origins}).
 * - A tunnel ticket line (lib/net/tunnel_protocol.ts) opens the fast tunnel,
 *   when the proxy offers it.
 * - A plain HTTP request gets a 400 saying to use https://.
 * - Anything else, or nothing within the handshake timeout, is closed.
 *
 * Why not `Deno.listenTls` on the port itself: Deno 2.9.6 runs a server-side
 * TLS handshake in a task that owns the socket and that closing the
 * `Deno.TlsConn` does not cancel, so a client that never sends a byte held
 * its socket until it went away. Here such a client is closed after the
 * handshake timeout, and so is one that stops mid-handshake (the TLS
 * listener's timeout closes the door's side of the pipe, which ends that
 * task). The cost is one more copy of every TLS byte, from this socket to the
 * loopback one; the fast tunnel has none.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { acceptForever, AcceptHealth } from "../../net/accept.ts";
import { readLine, writeAll } from "../../net/bytes.ts";
import { pipeConns } from "../../net/conn_pipe.ts";
import { processTrimmer } from "../../memory/trimmer.ts";
import { TICKET_LINE_PREFIX } from "../../net/tunnel_protocol.ts";
import { closeQuietly, readWithin } from "../../net/close_quietly.ts";

/** The first byte of a TLS handshake record. */
const TLS_HANDSHAKE = 0x16;
/** Longest first line of a plain connection. */
const MAX_LINE_BYTES = 2048;
/** Least time between two warnings about failed connections. */
const WARN_INTERVAL_MS = 10_000;

/** Serves a plain connection that presented a tunnel ticket. */
export type TicketHandler = (
  conn: Deno.TcpConn,
  ticket: string,
  rest: Uint8Array,
) => Promise<void>;

/** Where a connection piped to the TLS listener came from. */
export interface Origin {
  remoteAddr: Deno.NetAddr;
  /** Closes the client's connection and the pipe. */
  close(): void;
}

/**
 * The clients behind the connections the door opened to the TLS listener,
 * by the door's local port, which is the remote port the TLS listener sees.
 */
export class Origins {
  readonly #byPort = new Map<number, Origin>();

  /** The origin of a connection the TLS listener accepted; undefined for one the door did not open. */
  of(conn: Deno.Conn): Origin | undefined {
    const addr = conn.remoteAddr as Deno.NetAddr;
    return addr.hostname === "127.0.0.1" ? this.#byPort.get(addr.port) : undefined;
  }

  add(port: number, origin: Origin): void {
    this.#byPort.set(port, origin);
  }

  delete(port: number): void {
    this.#byPort.delete(port);
  }
}

/** Options of {@linkcode openFrontDoor}. */
export interface FrontDoorOptions {
  hostname: string;
  port: number;
  /** The TLS listener's loopback port now (it changes when the certificate does). */
  tlsPort(): number;
  origins: Origins;
  /** Serves ticket connections; absent when the proxy does not offer the fast tunnel. */
  onTicket?: TicketHandler;
  /** A client that has sent nothing by then is closed. */
  handshakeTimeoutMs: number;
  log: Logger;
}

/** A running front door. */
export interface FrontDoor {
  addr: Deno.NetAddr;
  health: AcceptHealth;
  /** Stops accepting (connections already open go on). */
  close(): void;
  /** Resolves once the accept loop has ended. */
  stopped: Promise<void>;
  /**
   * Waits up to `graceMs` for the connections still open to end (a TLS
   * connection ends once the TLS listener closed its side and the pipe
   * delivered what it sent), then closes the rest.
   */
  closeAll(graceMs: number): Promise<void>;
}

/**
 * Listens on the HTTPS port.
 *
 * @throws what `Deno.listen` throws when the address cannot be bound
 */
export function openFrontDoor(options: FrontDoorOptions): FrontDoor {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const health = new AcceptHealth("HTTPS");
  const open = new Map<Deno.Conn, Promise<void>>();
  let stopping = false;

  const serve = async (conn: Deno.TcpConn) => {
    const first = await readFirst(conn, options.handshakeTimeoutMs);
    if (!first) return closeQuietly(conn);
    if (first[0] === TLS_HANDSHAKE) return await pipeToTls(conn, first, options);
    const line = await readFirstLine(conn, first, options.handshakeTimeoutMs);
    if (line?.text.startsWith(TICKET_LINE_PREFIX) && options.onTicket) {
      return await options.onTicket(conn, line.text.slice(TICKET_LINE_PREFIX.length), line.rest);
    }
    if (line && /^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line.text)) await answerPlainHttp(conn);
    closeQuietly(conn);
  };

  // Failures (out of descriptors, say) are logged once per interval, not once per connection.
  let lastWarned = -Infinity;
  let unwarned = 0;
  const failed = (error: unknown) => {
    unwarned++;
    if (performance.now() - lastWarned < WARN_INTERVAL_MS) return;
    options.log.warn("HTTPS connection failed", { error: String(error), failures: unwarned });
    lastWarned = performance.now();
    unwarned = 0;
  };

  const stopped = acceptForever(listener, {
    health,
    log: options.log,
    stopping: () => stopping,
    onConn(conn) {
      const task = serve(conn)
        .catch((error) => {
          closeQuietly(conn);
          failed(error);
        })
        .finally(() => {
          open.delete(conn);
          processTrimmer.connectionEnded();
        });
      open.set(conn, task);
    },
  });

  return {
    addr: listener.addr,
    health,
    stopped,
    close() {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed already */ }
    },
    async closeAll(graceMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...open.values()]),
        new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      for (const conn of open.keys()) closeQuietly(conn);
      await Promise.allSettled([...open.values()]);
    },
  };
}

/** Pipes a TLS client to the TLS listener, its address told through `origins`. */
async function pipeToTls(
  conn: Deno.TcpConn,
  first: Uint8Array,
  options: FrontDoorOptions,
): Promise<void> {
  const inner = await Deno.connect({ hostname: "127.0.0.1", port: options.tlsPort() });
  conn.setNoDelay(true);
  inner.setNoDelay(true);
  const port = inner.localAddr.port;
  options.origins.add(port, {
    remoteAddr: conn.remoteAddr,
    close() {
      closeQuietly(conn);
      closeQuietly(inner);
    },
  });
  try {
    await writeAll(inner, first);
    await pipeConns(conn, inner);
  } finally {
    options.origins.delete(port);
  }
}

/** The first bytes, or null when the client sent none in time or left. */
async function readFirst(conn: Deno.Conn, timeoutMs: number): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(MAX_LINE_BYTES);
  try {
    const n = await readWithin(conn, timeoutMs, () => conn.read(buffer));
    return n === null ? null : buffer.subarray(0, n);
  } catch {
    return null;
  }
}

/**
 * The first line (without its CR LF or LF) and the bytes after it, read within
 * the timeout; null when there is none within {@link MAX_LINE_BYTES}.
 */
async function readFirstLine(
  conn: Deno.Conn,
  first: Uint8Array,
  timeoutMs: number,
): Promise<{ text: string; rest: Uint8Array } | null> {
  // On timeout the conn is closed: the pending read fails, which reads as an end.
  const read = await readWithin(conn, timeoutMs, () => readLine(conn, MAX_LINE_BYTES, first));
  return read.kind === "line" ? read : null;
}

/** Tells a plain-HTTP client that this port speaks HTTPS. */
async function answerPlainHttp(conn: Deno.Conn): Promise<void> {
  const body = "This port speaks HTTPS: use https:// in the address.\n";
  await writeAll(
    conn,
    new TextEncoder().encode(
      "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n" +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    ),
  ).catch(() => {});
}
