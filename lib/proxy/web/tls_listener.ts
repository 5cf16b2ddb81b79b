/**
 * The HTTPS port's listener with TLS ALPN dispatch: one port carries the web
 * (`h2`, `http/1.1`) and, by ALPN id, other protocols (the raw tunnel of
 * lib/net/tunnel_protocol.ts), as Teleport's TLS routing does.
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
 * Timeouts: a request head, and an idle HTTP/1.1 or HTTP/2 connection, are
 * bounded here (see {@linkcode AlpnListenerOptions}). The TLS handshake
 * timeout closes the connection on our side, but Deno 2.9.6 keeps the socket
 * of a client that never sends a byte open until that client sends or goes
 * away: its server-side TLS handshake runs in a task that owns the socket and
 * that closing the `Deno.TlsConn` does not cancel (measured: `Deno.listenTls`
 * and `Deno.serve` alike, still open after 15 s). Bounding that needs the
 * socket accepted as plain TCP and relayed to the TLS listener, at the cost
 * of one more copy of every byte; a TCP load balancer's idle timeout in front
 * of the proxy does it meanwhile.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { acceptForever, AcceptHealth } from "../../net/accept.ts";
import { setListenerNoDelay } from "./tcp_nodelay.ts";

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
  log: Logger;
  /**
   * A client that has not finished the TLS handshake by then is dropped.
   * (Deno 2.9 keeps the socket of a client that never sends a byte open until
   * that client sends or closes: see the module doc.)
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
   * Presents `cert` to new connections: the listener is opened again on the
   * same port (connections are refused for the moment in between); open
   * connections keep theirs.
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
  const listen = (port: number, pair: { cert: string; key: string }) => {
    const tls = Deno.listenTls({
      hostname: options.hostname,
      port,
      ...pair,
      // The server's order decides (rustls): a client offering a tunnel protocol
      // and http/1.1 gets the tunnel; browsers never offer it.
      alpnProtocols: [...Object.keys(options.protocols), "h2", "http/1.1"],
    });
    setListenerNoDelay(tls.addr.port);
    return tls;
  };
  let certificate = { cert: options.cert, key: options.key };
  let listener = listen(options.port, certificate);
  const addr = listener.addr;
  let stopping = false;
  const web = new Set<{ close(): void }>();
  const others = new Set<Deno.TlsConn>();
  const running = new Set<Promise<void>>();
  const responding = new Set<Promise<void>>();

  const dispatch = async (conn: Deno.TlsConn) => {
    const timer = setTimeout(() => closeQuietly(conn), options.handshakeTimeoutMs ?? 10_000);
    let alpn: string | null;
    try {
      alpn = (await conn.handshake()).alpnProtocol;
    } catch {
      closeQuietly(conn); // not TLS, a bad certificate on the client's side, or timed out
      return;
    } finally {
      clearTimeout(timer);
    }
    const protocol = alpn === null ? undefined : options.protocols[alpn];
    if (protocol) {
      others.add(conn);
      try {
        await protocol(conn, conn.remoteAddr);
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
        const info = { remoteAddr: conn.remoteAddr, completed: Promise.resolve() };
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

  const health = new AcceptHealth("HTTPS");
  /** Set while useCertificate replaces the listener. */
  let replacing: Promise<void> | undefined;
  // Each listener until it is closed; one that useCertificate replaced is followed by the next.
  const accepting = (async () => {
    for (;;) {
      const current = listener;
      await acceptForever(current, {
        health,
        log: options.log,
        stopping: () => stopping || replacing !== undefined,
        onConn(conn) {
          const task = dispatch(conn).finally(() => running.delete(task));
          running.add(task);
        },
      });
      if (stopping || !replacing) return;
      await replacing;
      if (listener === current) return; // the port could not be listened on again
    }
  })();

  /** Listens on the port the old listener frees once its pending accept has ended. */
  const listenAgain = async (pair: { cert: string; key: string }) => {
    for (let attempt = 0;; attempt++) {
      try {
        return listen(addr.port, pair);
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse) || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };

  const useCertificate = async (cert: string, key: string) => {
    if (stopping || replacing) throw new Error("the HTTPS listener is stopping or being replaced");
    const { promise, resolve } = Promise.withResolvers<void>();
    replacing = promise;
    const old = listener;
    old.close();
    try {
      listener = await listenAgain({ cert, key });
      certificate = { cert, key };
    } catch (error) {
      listener = await listenAgain(certificate).catch(() => old);
      throw error;
    } finally {
      replacing = undefined;
      resolve();
    }
  };

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () =>
    shuttingDown ??= (async () => {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed already */ }
      await accepting;
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
    })();
  const finished = accepting.then(() => shutdown());

  return { addr, finished, shutdown, health, useCertificate };
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

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
