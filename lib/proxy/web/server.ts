/**
 * The HTTPS listener on :3080: TLS with ALPN dispatch (web and the raw
 * tunnel on one port; plain `Deno.serve` where Deno's internals differ), the
 * router, static UI files, health endpoints and security headers on every
 * response.
 *
 * @module
 */

import { Unavailable } from "../../errors.ts";
import { type Logger, withLogFields } from "../../log.ts";
import type { AcceptHealth } from "../../net/accept.ts";
import { serveAsset } from "./assets.ts";
import {
  errorResponse,
  json,
  type RequestContext,
  Router,
  toErrorResponse,
  withSecurityHeaders,
} from "./http.ts";
import { httpConnectionServer, listenTlsWithAlpn, type ProtocolHandler } from "./tls_listener.ts";
import type { TicketHandler } from "./front_door.ts";
import { setListenerNoDelay } from "./tcp_nodelay.ts";

/** Options for {@linkcode startWebServer}. */
export interface WebServerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  log: Logger;
  /** Installs API routes on the router. */
  routes?: (router: Router) => void;
  /** Why a dependency is not ready (503 on /readyz), or null when all are. */
  notReadyReason?: () => Promise<string | null>;
  /**
   * Protocols other than HTTP on the same port, by ALPN id. Served only when
   * Deno's per-connection HTTP server is reachable (see tls_listener.ts);
   * clients then fall back to what HTTP offers.
   */
  protocols?: Record<string, ProtocolHandler>;
  /** Serves plain connections presenting a tunnel ticket (front_door.ts); absent: none. */
  onTicket?: TicketHandler;
  /** Closes a connection that has not finished its TLS handshake by then (front_door.ts). */
  handshakeTimeoutMs?: number;
  /** Closes a connection whose first request head has not arrived by then (tls_listener.ts). */
  headerTimeoutMs?: number;
  /** Closes a connection with no request in progress this long, WebSockets aside (tls_listener.ts). */
  idleTimeoutMs?: number;
}

/** A running web server. */
export interface WebServer {
  /** The bound address (the real port when 0 was asked for). */
  addr: Deno.NetAddr;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /**
   * Presents a new certificate to new connections (see tls_listener.ts);
   * absent on the plain `Deno.serve` fallback, which needs a restart.
   */
  useCertificate?(cert: string, key: string): Promise<void>;
  /**
   * Whether the listener is accepting (for /readyz); absent on the plain
   * `Deno.serve` fallback, whose accept loop is Deno's own.
   */
  health?: AcceptHealth;
}

/** Builds the request handler; exported so tests can call it without a socket. */
export function createWebHandler(
  options: Pick<WebServerOptions, "log" | "routes" | "notReadyReason">,
) {
  const router = new Router()
    .on("GET", "/healthz", () => json({ status: "ok" }))
    .on("GET", "/readyz", async () => {
      const reason = await options.notReadyReason?.() ?? null;
      return reason === null
        ? json({ status: "ready" })
        : json({ status: "unavailable", reason }, 503);
    });
  options.routes?.(router);

  return (request: Request, remoteAddr: string): Promise<Response> => {
    // Every log line of the request carries its id; the response tells it to the client.
    const requestId = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    return withLogFields({ request_id: requestId }, async () => {
      const url = new URL(request.url);
      let response: Response;
      try {
        response = await route(router, request, url, remoteAddr);
      } catch (error) {
        response = toErrorResponse(error, options.log);
      }
      if (response.status === 101) return response; // WebSocket upgrade: headers are immutable
      response = withSecurityHeaders(response);
      response.headers.set("x-request-id", requestId);
      return response;
    });
  };
}

async function route(router: Router, request: Request, url: URL, remoteAddr: string) {
  const found = router.match(request.method, url.pathname);
  if (found && "handler" in found) {
    const context: RequestContext = { url, params: found.params, remoteAddr };
    return await found.handler(request, context);
  }
  if (found) {
    const response = errorResponse("bad_request", `Method ${request.method} is not allowed here.`);
    return new Response(response.body, {
      status: 405,
      headers: { ...Object.fromEntries(response.headers), allow: found.allowed.join(", ") },
    });
  }
  if (url.pathname.startsWith("/v1/")) {
    return errorResponse("not_found", `No API route ${request.method} ${url.pathname}.`);
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    return errorResponse("not_found", `Nothing to ${request.method} at ${url.pathname}.`);
  }
  if (url.pathname === "/") return Response.redirect(new URL("/web/", url), 302);
  const asset = url.pathname.startsWith("/assets/") ? await serveAsset(url.pathname) : undefined;
  if (asset) return asset;
  if (url.pathname === "/web" || url.pathname.startsWith("/web/")) {
    const index = await serveAsset("index.html");
    if (index) return index;
    return errorResponse("unavailable", "The web UI is not built; run `deno task build-ui`.");
  }
  const file = await serveAsset(url.pathname);
  return file ??
    new Response("Not found\n", { status: 404, headers: { "content-type": "text/plain" } });
}

/** Starts the HTTPS server; throws Unavailable naming the address when it cannot listen. */
export function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const handler = createWebHandler(options);
  const serveConnection = httpConnectionServer();
  if (options.protocols && Object.keys(options.protocols).length && serveConnection) {
    try {
      return Promise.resolve(listenTlsWithAlpn({
        ...options,
        protocols: options.protocols,
        handler: (request, info) => handler(request, info.remoteAddr.hostname),
        onError: (error) => toErrorResponse(error, options.log),
      }, serveConnection));
    } catch (error) {
      return Promise.reject(listenError("HTTPS", options.hostname, options.port, error));
    }
  }
  if (options.protocols && !serveConnection) {
    options.log.warn("this Deno cannot serve ALPN protocols; tunnels use HTTP only");
  }
  const controller = new AbortController();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
      signal: controller.signal,
      onListen: (addr) => {
        setListenerNoDelay(addr.port);
        resolve(addr);
      },
      onError: (error) => toErrorResponse(error, options.log),
    }, (request, info) => handler(request, info.remoteAddr.hostname));
  } catch (error) {
    return Promise.reject(listenError("HTTPS", options.hostname, options.port, error));
  }
  return listening.then((addr) => ({
    addr,
    finished: server.finished,
    async shutdown() {
      await server.shutdown();
    },
  }));
}

/** A clear error for a listener that cannot bind. */
export function listenError(what: string, hostname: string, port: number, error: unknown): Error {
  const where = `${hostname}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new Unavailable(
      `Cannot listen for ${what} on ${where}: port ${port} is already in use. ` +
        `Stop the other process or choose another address in the config.`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new Unavailable(
      `Cannot listen for ${what} on ${where}: permission denied (ports below 1024 need root).`,
      { cause: error },
    );
  }
  return new Unavailable(`Cannot listen for ${what} on ${where}: ${String(error)}`, {
    cause: error,
  });
}
