/**
 * The browser terminal: a WebSocket at `/v1/webapi/sites/<cluster>/connect`
 * that starts a proxy-terminated session on a node (or joins a live one) and
 * carries terminal bytes as binary frames, and resize / status / errors as
 * JSON text frames.
 *
 * The upgrade needs the session cookie, the CSRF token (`csrf` query
 * parameter, since browsers cannot set headers on WebSockets) and a
 * same-origin `Origin` header. A stalled browser cannot grow memory: output
 * is paused while the socket's send buffer is full.
 *
 * @module
 */

import type { Config } from "../../config/config.ts";
import {
  AccessDenied,
  BadRequest,
  NotFound,
  PosternError,
  toUserMessage,
  Unauthenticated,
} from "../../errors.ts";
import type { NodeSessionDeps, OwnerSink } from "../node_session.ts";
import { startNodeSession } from "../node_session.ts";
import type { LiveSession, PartySink, SessionEvent } from "../../session/hub.ts";
import type { RequestContext, Router } from "./http.ts";
import { type ActiveWebSession, activeWebSession, sessionCookie } from "./api/guard.ts";
import { webSessionCredentials } from "../node_login.ts";
import { joinTarget } from "../session_lookup.ts";
import { webSessionHash } from "../revocations.ts";

/** Largest JSON control frame accepted from the browser. */
const MAX_CONTROL_FRAME = 4096;
const encoder = new TextEncoder();

/** The Origin a browser on this proxy sends: `https://<Host>`. */
function sameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  const host = request.headers.get("host") ?? new URL(request.url).host;
  return origin !== null && origin === `https://${host}`;
}

function bounded(value: string | null, fallback: number, min: number, max: number): number {
  const n = Number(value ?? fallback);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

function sendJson(socket: WebSocket, message: Record<string, unknown>): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

/** Sends an error frame (with the error's kind when known) and closes the socket. */
function closeWith(socket: WebSocket, message: string, code = 1011, kind?: string): void {
  sendJson(socket, { type: "error", message, ...(kind ? { kind } : {}) });
  if (socket.readyState === WebSocket.OPEN) socket.close(code, message.slice(0, 120));
}

function notify(socket: WebSocket, live: LiveSession, event: SessionEvent): void {
  if (event.type === "party.join" || event.type === "party.leave") {
    sendJson(socket, {
      type: "parties",
      parties: live.describe().parties.map(({ user, mode }) => ({ user, mode })),
    });
  } else if (event.type === "resize") {
    sendJson(socket, { type: "resize", cols: event.cols, rows: event.rows });
  }
}

/**
 * Why a session ended, for the user: the proxy's reason when it ended it,
 * else what the node said. OpenSSH always sends an exit status or signal, so
 * a channel closed without either means the connection to the node broke.
 */
export function endReason(
  exitCode: number | null,
  signal?: string,
  reason?: string,
): string | undefined {
  if (reason) return reason;
  if (exitCode !== null) return undefined;
  return signal ? `killed by signal ${signal}` : "the connection to the node was lost";
}

/**
 * A sink that writes to the WebSocket. Every end, whatever its cause, is one
 * `end` frame: the exit code, and a `reason` when it was not the command's exit.
 */
function socketSink(socket: WebSocket, live: () => LiveSession | undefined): PartySink & OwnerSink {
  let ended = false;
  const end = (code: number | null, reason?: string) => {
    if (ended) return;
    ended = true;
    sendJson(socket, { type: "end", exit_code: code, ...(reason ? { reason } : {}) });
    if (socket.readyState === WebSocket.OPEN) socket.close(1000, "session ended");
  };
  return {
    write(data) {
      if (socket.readyState === WebSocket.OPEN) socket.send(data);
    },
    backlog: () => socket.bufferedAmount ?? 0,
    whenBacklogBelow: (bytes, listener) => whenSocketBelow(socket, bytes, listener),
    notify(event) {
      if (event.type === "end") {
        return end(event.exitCode, endReason(event.exitCode, undefined, event.reason));
      }
      const session = live();
      if (session) notify(socket, session, event);
    },
    close: (reason) => end(null, reason),
    exit: (code, signal) => end(code, endReason(code, signal)),
  };
}

/**
 * How often a paused web session looks at its socket's send buffer: a
 * WebSocket has no event for its `bufferedAmount` falling, so this wait
 * polls, and only while the node's output is paused for the browser.
 */
const SOCKET_DRAIN_POLL_MS = 5;

/** Calls `listener` once the socket has fewer than `bytes` queued; returns a cancel. */
function whenSocketBelow(socket: WebSocket, bytes: number, listener: () => void): () => void {
  const below = () => (socket.bufferedAmount ?? 0) < bytes;
  if (below()) {
    listener();
    return () => {};
  }
  const timer = setInterval(() => {
    if (!below()) return;
    clearInterval(timer);
    listener();
  }, SOCKET_DRAIN_POLL_MS);
  return () => clearInterval(timer);
}

/** Routes browser messages to the session; malformed frames get an error, never a crash. */
function wireInput(socket: WebSocket, live: LiveSession, partyId: string, touch: () => void): void {
  socket.onmessage = (event) => {
    touch();
    if (event.data instanceof ArrayBuffer) {
      live.input(partyId, new Uint8Array(event.data));
      return;
    }
    if (typeof event.data !== "string" || event.data.length > MAX_CONTROL_FRAME) {
      return sendJson(socket, {
        type: "error",
        message: "Control frames must be JSON under 4 KiB.",
      });
    }
    let message: { type?: unknown; cols?: unknown; rows?: unknown; data?: unknown };
    try {
      message = JSON.parse(event.data);
    } catch {
      return sendJson(socket, { type: "error", message: "Control frame is not valid JSON." });
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return sendJson(socket, { type: "error", message: "Control frames must be JSON objects." });
    }
    if (message.type === "resize") {
      const cols = Number(message.cols);
      const rows = Number(message.rows);
      if (
        Number.isInteger(cols) && Number.isInteger(rows) && cols > 0 && rows > 0 && cols <= 1000 &&
        rows <= 1000
      ) {
        live.resize(partyId, cols, rows);
      }
    } else if (message.type === "input" && typeof message.data === "string") {
      live.input(partyId, encoder.encode(message.data));
    } else if (message.type !== "ping") {
      sendJson(socket, {
        type: "error",
        message: `Unknown control frame type ${JSON.stringify(message.type)}.`,
      });
    }
  };
}

/** Closes the socket after `idleMs` without traffic either way. */
function idleGuard(socket: WebSocket, idleMs: number): { touch(): void; stop(): void } {
  let last = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - last > idleMs) closeWith(socket, "Closed after being idle too long.", 1000);
  }, Math.min(idleMs, 30_000));
  return { touch: () => (last = Date.now()), stop: () => clearInterval(timer) };
}

async function startSession(
  socket: WebSocket,
  deps: NodeSessionDeps,
  session: ActiveWebSession,
  sessionId: string,
  url: URL,
  remoteAddr: string,
  idleMs: number,
  browserLeft: AbortSignal,
): Promise<void> {
  const node = url.searchParams.get("node");
  const login = url.searchParams.get("login");
  if (!node || !login) throw new BadRequest(`Query parameters "node" and "login" are required.`);
  const authorized = await deps.auth.authorizeNode(session.proof, node, login);
  const credentials = await webSessionCredentials(deps.auth, sessionId);
  const pty = {
    term: "xterm-256color",
    cols: bounded(url.searchParams.get("cols"), 80, 1, 1000),
    rows: bounded(url.searchParams.get("rows"), 24, 1, 1000),
  };
  const current: { live?: LiveSession } = {};
  const idle = idleGuard(socket, idleMs);
  const sink = socketSink(socket, () => current.live);
  const write = sink.write;
  sink.write = (data) => {
    idle.touch();
    write(data);
  };
  const running = await startNodeSession(
    deps,
    authorized,
    credentials,
    { pty, env: { LANG: "C.UTF-8" } },
    sink,
    { kind: "web", remoteAddr, signal: browserLeft, webSessionHash: webSessionHash(sessionId) },
  ).catch((error) => {
    idle.stop();
    throw error;
  });
  const live = current.live = running.live;
  sendJson(socket, {
    type: "session",
    id: running.id,
    node: authorized.node.name,
    login,
    mode: "owner",
  });
  notify(socket, live, { type: "party.join", user: session.identity.user, mode: "owner" });
  wireInput(socket, live, running.ownerParty, idle.touch);
  running.done.finally(() => idle.stop());
}

async function joinSession(
  socket: WebSocket,
  deps: NodeSessionDeps,
  session: ActiveWebSession,
  sessionId: string,
  url: URL,
  remoteAddr: string,
): Promise<void> {
  const id = url.searchParams.get("session_id") ?? "";
  const identity = session.identity;
  const { live, mode } = await joinTarget(
    deps,
    session.proof,
    identity,
    id,
    url.searchParams.get("mode") ?? "observer",
  );
  sendJson(socket, { type: "session", id, node: live.info.node, login: live.info.login, mode });
  sendJson(socket, { type: "resize", cols: live.cols, rows: live.rows });
  const party = live.join(identity.user, mode, socketSink(socket, () => live));
  const untrack = deps.connections.track({
    user: identity.user,
    kind: "web join",
    webSessionHash: webSessionHash(sessionId),
    close: (reason) => live.leave(party.id, reason),
  });
  socket.onclose = () => {
    untrack();
    live.leave(party.id);
  };
  notify(socket, live, { type: "party.join", user: identity.user, mode });
  await deps.auth.audit({
    code: "session.join",
    user: identity.user,
    remoteAddr,
    fields: { session_id: id, mode },
  });
  wireInput(socket, live, party.id, () => {});
}

/** Installs the WebSocket terminal route. */
export function terminalRoutes(router: Router, deps: NodeSessionDeps, config: Config): void {
  router.on(
    "GET",
    "/v1/webapi/sites/:cluster/connect",
    async (request: Request, context: RequestContext) => {
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        throw new BadRequest("This endpoint needs a WebSocket upgrade.");
      }
      if (!sameOrigin(request)) {
        throw new AccessDenied(
          "WebSocket connections must come from this proxy's own pages.",
        );
      }
      const sessionId = sessionCookie(request);
      if (!sessionId) throw new Unauthenticated("Sign in first.");
      const session = await activeWebSession(deps.auth, sessionId);
      if (!session.checkCsrf(context.url.searchParams.get("csrf"))) {
        throw new AccessDenied("Missing or invalid CSRF token; reload the page and try again.");
      }
      if (context.params.cluster !== deps.auth.cluster) {
        throw new NotFound(
          `No cluster "${context.params.cluster}".`,
        );
      }
      const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 30 });
      socket.binaryType = "arraybuffer";
      // Before any await: a tab closed while the proxy logs in to the node must
      // not leave that node session behind.
      const browserLeft = new AbortController();
      socket.addEventListener("close", () => browserLeft.abort(), { once: true });
      socket.onopen = async () => {
        try {
          if (await deps.auth.needsSessionMfa(session.proof)) {
            throw new AccessDenied(
              "Your roles ask for a second factor before each session; reload the page to give it.",
            );
          }
          if (context.url.searchParams.has("session_id")) {
            await joinSession(socket, deps, session, sessionId, context.url, context.remoteAddr);
          } else {
            await startSession(
              socket,
              deps,
              session,
              sessionId,
              context.url,
              context.remoteAddr,
              config.proxy.idle_timeout,
              browserLeft.signal,
            );
          }
        } catch (error) {
          const message = toUserMessage(error, deps.log, "web terminal");
          closeWith(socket, message, 1011, error instanceof PosternError ? error.kind : undefined);
        }
      };
      socket.onerror = () => {};
      return response;
    },
  );
}
