/**
 * The HTTPS port's listener with TLS ALPN dispatch: one port carries the web
 * (`h2`, `http/1.1`) and, by ALPN id, other protocols (the raw tunnel of
 * lib/net/tunnel_protocol.ts), as Teleport's TLS routing does.
 *
 * The port itself is the front door's (front_door.ts), which accepts plain
 * TCP and pipes TLS clients to the TLS listener here, on loopback; the
 * handlers see the client's real address. Connections to that loopback port
 * that the door did not open are closed.
 *
 * `Deno.serve` cannot dispatch on ALPN, so connections are accepted here and
 * web connections are served with `Deno.serveHttp` (Deno's per-connection
 * HTTP server, h2 and http/1.1, WebSocket upgrades included). It is
 * deprecated and absent from Deno's type declarations:
 * {@link httpConnectionServer} checks it is there, and the caller falls back
 * to plain `Deno.serve` (no ALPN protocols) when it is not. (Deno's internal
 * `serveHttpOnConnection` was tried first: it closes the connection under an
 * upgraded WebSocket.)
 *
 * Timeouts: the TLS handshake, a request head, and an idle HTTP/1.1 or HTTP/2
 * connection are bounded here (see {@linkcode AlpnListenerOptions}).
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { acceptForever, type AcceptHealth } from "../../net/accept.ts";
import { openFrontDoor, Origins, type TicketHandler } from "./front_door.ts";
import { setListenerNoDelay } from "./tcp_nodelay.ts";
import { closeQuietly } from "../../net/close_quietly.ts";

/** What `Deno.serve` calls for each request. */
export type RequestHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** One HTTP request on a connection served by `Deno.serveHttp`. */
interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): Promise<void>;
}

/** `Deno.serveHttp`: the HTTP requests of one connection. */
type ServeConnection = (conn: Deno.Conn) => AsyncIterable<RequestEvent> & { close(): void };

/** A handler for connections that chose an ALPN protocol other than HTTP. */
export type ProtocolHandler = (conn: Deno.TlsConn, remoteAddr: Deno.NetAddr) => Promise<void>;

/** Options of {@linkcode listenTlsWithAlpn}. */
export interface AlpnListenerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  handler: RequestHandler;
  onError(error: unknown): Response | Promise<Response>;
  /** ALPN protocol ids besides h2 and http/1.1, with their handlers. */
  protocols: Record<string, ProtocolHandler>;
  /** Serves plain connections that present a tunnel ticket (front_door.ts); absent: none. */
  onTicket?: TicketHandler;
  log: Logger;
  /**
   * A client that has not finished the TLS handshake by then is dropped.
   * @default {10000}
   */
  handshakeTimeoutMs?: number;
  /**
   * An HTTP connection whose first request has not arrived this long after
   * the TLS handshake is closed (a half-sent request head included).
   * @default {30000}
   */
  headerTimeoutMs?: number;
  /**
   * An HTTP connection (HTTP/1.1 keep-alive or HTTP/2) with no request in
   * progress for this long is closed; one carrying a WebSocket is not.
   * @default {120000}
   */
  idleTimeoutMs?: number;
}

/** A running listener. */
export interface AlpnListener {
  addr: Deno.NetAddr;
  /** Whether the listener is accepting (for /readyz). */
  health: AcceptHealth;
  /** Resolves once the listener has stopped and every connection has ended. */
  finished: Promise<void>;
  /** Stops accepting, lets HTTP requests in flight finish, closes other connections. */
  shutdown(): Promise<void>;
  /**
   * Presents `cert` to new connections; open connections keep theirs.
   *
   * @throws what `Deno.listenTls` throws for a bad certificate or key (the old one stays)
   */
  useCertificate(cert: string, key: string): Promise<void>;
}

/**
 * Deno's per-connection HTTP server, when this Deno has it.
 *
 * @returns `Deno.serveHttp`, or undefined when this Deno has none
 */
export function httpConnectionServer(): ServeConnection | undefined {
  const serve = (Deno as unknown as { serveHttp?: unknown }).serveHttp;
  return typeof serve === "function" ? serve.bind(Deno) as ServeConnection : undefined;
}

/**
 * Listens with TLS and dispatches each connection on its ALPN protocol.
 *
 * @param options address, certificate, HTTP handler, other protocols
 * @param serveConnection from {@link httpConnectionServer}
 * @returns the listener
 * @throws what `Deno.listenTls` throws when the address cannot be bound
 */
export function listenTlsWithAlpn(
  options: AlpnListenerOptions,
  serveConnection: ServeConnection,
): AlpnListener {
  const listen = (pair: { cert: string; key: string }) => {
    const tls = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      ...pair,
      // The server's order decides (rustls): a client offering a tunnel protocol
      // and http/1.1 gets the tunnel; browsers never offer it.
      alpnProtocols: [...Object.keys(options.protocols), "h2", "http/1.1"],
    });
    // Its side of each pipe too: Nagle would hold a response behind the door's delayed ACK.
    setListenerNoDelay(tls.addr.port);
    return tls;
  };
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  let listener = listen({ cert: options.cert, key: options.key });
  const origins = new Origins();
  let door;
  try {
    door = openFrontDoor({
      hostname: options.hostname,
      port: options.port,
      tlsPort: () => listener.addr.port,
      origins,
      onTicket: options.onTicket,
      handshakeTimeoutMs,
      log: options.log,
    });
  } catch (error) {
    listener.close();
    throw error;
  }
  const frontDoor = door;
  let stopping = false;
  const web = new Set<{ close(): void }>();
  const others = new Set<Deno.TlsConn>();
  const running = new Set<Promise<void>>();
  const responding = new Set<Promise<void>>();

  const dispatch = async (conn: Deno.TlsConn) => {
    // Closing the door's side of the pipe too ends Deno's handshake task (module doc).
    const drop = () => {
      closeQuietly(conn);
      origins.of(conn)?.close();
    };
    const timer = setTimeout(drop, handshakeTimeoutMs);
    let alpn: string | null;
    try {
      alpn = (await conn.handshake()).alpnProtocol;
    } catch {
      return drop(); // not TLS, a bad certificate on the client's side, or timed out
    } finally {
      clearTimeout(timer);
    }
    // Known by now: the door registers a connection before sending its first byte.
    const origin = origins.of(conn);
    if (!origin) return drop(); // not opened by the front door
    const remoteAddr = origin.remoteAddr;
    const protocol = alpn === null ? undefined : options.protocols[alpn];
    if (protocol) {
      others.add(conn);
      try {
        await protocol(conn, remoteAddr);
      } catch (error) {
        options.log.warn("connection handler failed", { alpn, error: String(error) });
      } finally {
        others.delete(conn);
        closeQuietly(conn);
      }
      return;
    }
    const requests = serveConnection(conn);
    web.add(requests);
    const idle = new IdleTimer(() => {
      try {
        requests.close();
      } catch { /* closed already */ }
    }, {
      headerTimeoutMs: options.headerTimeoutMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
    });
    try {
      for await (const event of requests) {
        idle.requestStarted();
        const info = { remoteAddr, completed: Promise.resolve() };
        const answer = (async () => {
          let response: Response;
          try {
            response = await options.handler(event.request, info);
          } catch (error) {
            response = await options.onError(error);
          }
          if (response.status === 101) idle.upgraded();
          return response;
        })();
        const sent = event.respondWith(answer).catch(() => {/* the client went away */});
        responding.add(sent);
        sent.finally(() => {
          responding.delete(sent);
          idle.requestEnded();
        });
      }
    } catch {
      // A broken connection ends its requests.
    } finally {
      idle.stop();
      web.delete(requests);
    }
  };

  const health = frontDoor.health;
  // Each listener until it is closed; one that useCertificate replaced is followed by the next.
  const accepting = (async () => {
    for (;;) {
      const current = listener;
      await acceptForever(current, {
        health,
        log: options.log,
        stopping: () => stopping || listener !== current,
        onConn(conn) {
          const task = dispatch(conn).finally(() => running.delete(task));
          running.add(task);
        },
      });
      if (stopping) return;
    }
  })();

  const useCertificate = (cert: string, key: string) => {
    if (stopping) return Promise.reject(new Error("the HTTPS listener is stopping"));
    const old = listener;
    listener = listen({ cert, key });
    old.close();
    return Promise.resolve();
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    shuttingDown ??= (async () => {
      stopping = true;
      frontDoor.close();
      try {
        listener.close();
      } catch { /* closed already */ }
      await Promise.all([accepting, frontDoor.stopped]);
      for (const conn of others) closeQuietly(conn);
      // Responses being sent may finish (bounded), then every connection closes.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...responding]),
        new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS))),
      ]);
      clearTimeout(timer);
      for (const requests of web) {
        try {
          requests.close();
        } catch { /* closed already */ }
      }
      await Promise.allSettled([...running]);
      await frontDoor.closeAll(PIPE_DRAIN_MS);
    })();
  const finished = Promise.all([accepting, frontDoor.stopped]).then(() => shutdown());

  return { addr: frontDoor.addr, finished, shutdown, health, useCertificate };
}

/**
 * When an HTTP connection is closed for idling: while waiting for its first
 * request (the head timeout), and while no request is in progress after that
 * (the idle timeout). A connection upgraded to a WebSocket is never closed
 * here: its requests are over, its socket is not.
 */
class IdleTimer {
  #active = 0;
  #upgraded = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly close: () => void,
    private readonly timeouts: { headerTimeoutMs: number; idleTimeoutMs: number },
  ) {
    this.#arm(timeouts.headerTimeoutMs);
  }

  requestStarted(): void {
    this.#active++;
    clearTimeout(this.#timer);
  }

  requestEnded(): void {
    this.#active--;
    if (this.#active === 0 && !this.#upgraded) this.#arm(this.timeouts.idleTimeoutMs);
  }

  upgraded(): void {
    this.#upgraded = true;
    clearTimeout(this.#timer);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.close, ms);
  }
}

/** How long shutdown waits for responses being sent. */
const SHUTDOWN_GRACE_MS = 5_000;
/** How long shutdown lets the front door's pipes deliver what the closed connections sent. */
const PIPE_DRAIN_MS = 2_000;
