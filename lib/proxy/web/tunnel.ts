/**
 * The HTTPS tunnel behind `postern proxy ssh`: `POST
 * /v1/webapi/sites/<cluster>/tunnel?host=<node>&port=<port>&login=<login>`
 * authenticated by the user's certificate. The request body streams to the
 * node and the node's bytes stream back as the response body (full-duplex
 * HTTP/1.1, chunked both ways), so only :3080 needs to be open and the outer
 * hop is encrypted once, by TLS. Backpressure holds end to end: the body is
 * pulled from the node only as the user takes it, and the request body is read
 * at most 1 MiB ahead of the node.
 *
 * @module
 */

import { CERT_AUTH_PREFIX } from "../../net/cert_request.ts";
import type { LiveConnections } from "../revocations.ts";
import type { AuthorizedNode, AuthService, TunnelTarget, UserProof } from "../../auth/service.ts";
import { AccessDenied, BadRequest, NotFound } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { dialNode } from "../dial.ts";
import { certRequestSession } from "./api/cert_auth.ts";
import type { Router } from "./http.ts";
import { batchCopy, Slabs } from "../../net/batch_copy.ts";
import { writeAll } from "../../net/bytes.ts";
import { relayedBytes } from "../../metrics/metrics.ts";
import { closeQuietly } from "../../net/close_quietly.ts";

/** Most bytes read from the node at once: fewer, larger response chunks and TLS writes. */
const READ_SIZE = 256 * 1024;

/**
 * The conn to the node, closed once both directions are over (or at once
 * when the tunnel is torn down).
 */
class NodeConn {
  #open = 2;
  #closed = false;

  constructor(readonly conn: Deno.Conn) {}

  /** One direction is over. */
  finish(): void {
    if (--this.#open <= 0) this.close();
  }

  /** Closes the conn now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/**
 * The node's bytes as a response body, counted. Reads go straight into
 * slabs (no per-chunk allocation or copy, and no TransformStream stage); a
 * read that fails because the tunnel is being torn down ends the body
 * instead of erroring it.
 */
function nodeOutput(
  node: NodeConn,
  count: (n: number) => void,
  done: () => void,
): ReadableStream<Uint8Array> {
  const slabs = new Slabs(READ_SIZE);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let n: number | null;
      try {
        n = await node.conn.read(slabs.next());
      } catch {
        n = null;
      }
      if (n === null) {
        done();
        node.finish();
        controller.close();
        return;
      }
      count(n);
      controller.enqueue(slabs.take(n));
    },
    cancel() {
      done();
      node.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * Copies the request body to the node, counted, then half-closes toward it.
 * Reading the body goes on while a write to the node is in flight, and what
 * arrived meanwhile is written at once.
 */
async function userInput(
  body: ReadableStream<Uint8Array>,
  node: NodeConn,
  count: (n: number) => void,
): Promise<void> {
  const reader = body.getReader();
  try {
    await batchCopy(async () => {
      const { value, done } = await reader.read();
      if (done) return null;
      count(value.byteLength);
      return [value];
    }, (batch) => writeAll(node.conn, batch));
    await node.conn.closeWrite();
    node.finish();
  } catch {
    // The user or the node went away: tear the tunnel down.
    node.close();
    reader.cancel().catch(() => {});
  }
}

/** Where a tunnel request goes and what it is audited as. */
export interface TunnelRequest {
  /** The `authorization` header (PosternCert). */
  authorization: string | null;
  /** The method the signature covers. */
  method: string;
  /** `/v1/webapi/sites/<cluster>/tunnel?host=..&login=..[&port=..]`. */
  url: URL;
  remoteAddr: string;
  /** "https" (chunked HTTP), "tls" (raw, by ALPN) or "tcp" (fast path), for audit. */
  kind: string;
  /** Aborted when the client leaves: a dial still under way is cancelled. */
  cancel?: AbortSignal;
}

/** A tunnel whose user was authenticated and authorised, its node dialled. */
export interface OpenedTunnel {
  conn: Deno.TcpConn;
  /** Bytes user → node. */
  countUp(n: number): void;
  /** Bytes node → user. */
  countDown(n: number): void;
  /** Audits the end (once; later calls do nothing). */
  finish(): void;
}

const TUNNEL_PATH = /^\/v1\/webapi\/sites\/([^/]+)\/tunnel$/;

/** A tunnel request whose user was authenticated: who, where to and as whom. */
export interface TunnelAsk {
  proof: UserProof;
  target: TunnelTarget;
  login: string;
}

/**
 * Checks the certificate signature and the cluster, and reads the target.
 *
 * @param deps the auth service
 * @param request the tunnel request
 * @returns the user's proof, the target and the login
 * @throws AccessDenied, BadRequest or NotFound with a message for the user
 */
export async function readTunnelAsk(
  deps: Pick<TunnelDeps, "auth">,
  request: Pick<TunnelRequest, "authorization" | "method" | "url">,
): Promise<TunnelAsk> {
  const { auth } = deps;
  const { authorization, url } = request;
  if (!authorization?.startsWith(CERT_AUTH_PREFIX)) {
    throw new AccessDenied("The tunnel needs certificate authentication; use `postern proxy ssh`.");
  }
  const session = await certRequestSession(
    auth,
    authorization,
    request.method,
    url.pathname + url.search,
  );
  const cluster = TUNNEL_PATH.exec(url.pathname)?.[1];
  if (cluster === undefined) throw new NotFound(`No tunnel at ${url.pathname}.`);
  if (cluster !== encodeURIComponent(auth.cluster)) throw new NotFound(`No cluster "${cluster}".`);
  const host = url.searchParams.get("host");
  const login = url.searchParams.get("login");
  const portText = url.searchParams.get("port");
  if (!host || !login) throw new BadRequest(`Query parameters "host" and "login" are required.`);
  const port = portText ? Number(portText) : null;
  if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new BadRequest(`"port" must be a TCP port number.`);
  }
  return { proof: session.proof, target: { host, port }, login };
}

/** Authorises, at auth, the node a tunnel request asks for. */
export function authorizeAsk(
  deps: Pick<TunnelDeps, "auth">,
  ask: TunnelAsk,
): Promise<AuthorizedNode> {
  return deps.auth.authorizeTarget(ask.proof, ask.target, ask.login);
}

/**
 * Reads and authorises a tunnel request (see {@link readTunnelAsk}) and opens it.
 *
 * @throws AccessDenied, BadRequest, NotFound or Unavailable with a message for the user
 */
export async function openTunnel(
  deps: TunnelDeps,
  request: TunnelRequest,
): Promise<OpenedTunnel> {
  const authorized = await authorizeAsk(deps, await readTunnelAsk(deps, request));
  return await connectTunnel(deps, authorized, request);
}

/**
 * Dials an authorised tunnel's node, tracks the connection for revocation
 * and audits its start.
 *
 * @param deps auth, connections, log, dial timeout
 * @param authorized the user and node
 * @param request the client's address, the kind for audit, the cancel signal
 * @returns the open tunnel
 * @throws Unavailable when the node cannot be reached
 */
export async function connectTunnel(
  deps: TunnelDeps,
  authorized: AuthorizedNode,
  request: Pick<TunnelRequest, "remoteAddr" | "kind" | "cancel">,
): Promise<OpenedTunnel> {
  const { auth, log, dialTimeoutMs } = deps;
  const { remoteAddr } = request;
  const { node, login } = authorized;
  const conn = await dialNode(node, dialTimeoutMs, request.cancel);
  const user = authorized.identity.user;
  const base = { node: node.name, addr: node.addr, login, kind: request.kind };
  const started = Date.now();
  let bytesUp = 0;
  let bytesDown = 0;
  let ended = false;
  const untrack = deps.connections.track({
    user,
    kind: "https tunnel",
    close: () => closeQuietly(conn),
  });
  await auth.audit({ code: "tunnel.start", user, remoteAddr, fields: base });
  return {
    conn,
    countUp: (n) => {
      bytesUp += n;
      relayedBytes.inc({ kind: "https_tunnel", direction: "up" }, n);
    },
    countDown: (n) => {
      bytesDown += n;
      relayedBytes.inc({ kind: "https_tunnel", direction: "down" }, n);
    },
    finish() {
      if (ended) return;
      ended = true;
      untrack();
      auth.audit({
        code: "tunnel.end",
        user,
        remoteAddr,
        fields: {
          ...base,
          bytes_up: bytesUp,
          bytes_down: bytesDown,
          duration_ms: Date.now() - started,
        },
      }).catch((error) => log.error("cannot audit tunnel end", { error: String(error) }));
    },
  };
}

/** What HTTPS tunnels need. */
export interface TunnelDeps {
  auth: AuthService;
  connections: LiveConnections;
  log: Logger;
  dialTimeoutMs: number;
  /** Whether tunnel heads asking for a ticket get one (`proxy.tunnel_fast_path`). */
  fastPath: boolean;
}

/** Installs the tunnel route. */
export function tunnelRoute(router: Router, deps: TunnelDeps): void {
  router.on(
    "POST",
    "/v1/webapi/sites/:cluster/tunnel",
    async (request, { url, remoteAddr }) => {
      if (!request.body) throw new BadRequest("The tunnel needs a streaming request body.");
      const tunnel = await openTunnel(deps, {
        authorization: request.headers.get("authorization"),
        method: "POST",
        url,
        remoteAddr,
        kind: "https",
        cancel: request.signal,
      });
      const nodeConn = new NodeConn(tunnel.conn);
      void userInput(request.body, nodeConn, tunnel.countUp);
      const body = nodeOutput(nodeConn, tunnel.countDown, tunnel.finish);
      return new Response(body, {
        headers: { "content-type": "application/octet-stream", "cache-control": "no-store" },
      });
    },
  );
}
