/**
 * The raw tunnel on the HTTPS port (lib/net/tunnel_protocol.ts): a TLS
 * connection that chose the tunnel's ALPN id sends one `CONNECT` head with a
 * certificate signature; the proxy authorises it as it does the HTTP tunnel
 * route and then copies bytes both ways between the TLS stream and the node,
 * with no framing. A head asking for a ticket (the fast path,
 * tunnel_protocol.ts) gets one instead when the proxy offers the fast path.
 *
 * @module
 */

import { BadRequest } from "../../errors.ts";
import { batchCopy } from "../../net/batch_copy.ts";
import { concatBytes, readHttpHead, writeAll } from "../../net/bytes.ts";
import {
  MAX_HEAD_BYTES,
  TICKET_HEADER,
  TICKET_QUERY,
  TUNNEL_METHOD,
} from "../../net/tunnel_protocol.ts";
import { toErrorResponse } from "./http.ts";
import {
  authorizeAsk,
  connectTunnel,
  type OpenedTunnel,
  readTunnelAsk,
  type TunnelDeps,
} from "./tunnel.ts";
import { closeQuietly, readWithin } from "../../net/close_quietly.ts";

/** Most bytes read from either side at once. */
const READ_SIZE = 256 * 1024;
/** How long a client may take to send its head. */
const HEAD_TIMEOUT_MS = 10_000;

/** Reason phrases of the statuses the tunnel answers with. */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

const encoder = new TextEncoder();

/**
 * Serves one raw tunnel connection until either side ends it.
 *
 * @param conn the TLS connection (ALPN settled on the tunnel)
 * @param remoteAddr the client's address
 * @param deps auth, log, dial timeout
 * @returns when the tunnel is over (the caller closes `conn`)
 */
export async function serveRawTunnel(
  conn: Deno.TlsConn,
  remoteAddr: Deno.NetAddr,
  deps: TunnelDeps,
): Promise<void> {
  let tunnel: OpenedTunnel;
  let rest: Uint8Array;
  let early: Promise<Uint8Array | null>;
  try {
    const head = await readHead(conn);
    rest = head.rest;
    const url = new URL(head.target, "https://proxy.invalid");
    const ask = await readTunnelAsk(deps, {
      authorization: head.headers.get("authorization") ?? null,
      method: TUNNEL_METHOD,
      url,
    });
    if (deps.fastPath && url.searchParams.get(TICKET_QUERY) === "1") {
      // Issuing authorises the target: one call to auth, not two.
      const ticket = await deps.auth.issueTunnelTicket(
        ask.proof,
        ask.target,
        ask.login,
        remoteAddr.hostname,
      );
      await writeAll(
        conn,
        encoder.encode(
          `HTTP/1.1 200 OK\r\n${TICKET_HEADER}: ${ticket}\r\ncontent-length: 0\r\n\r\n`,
        ),
      );
      return;
    }
    const authorized = await authorizeAsk(deps, ask);
    const reading = readWhileDialling(conn);
    early = reading.early;
    tunnel = await connectTunnel(deps, authorized, {
      remoteAddr: remoteAddr.hostname,
      kind: "tls",
      cancel: reading.left,
    });
  } catch (error) {
    const response = toErrorResponse(error, deps.log);
    const body = new Uint8Array(await response.arrayBuffer());
    const headText = `HTTP/1.1 ${response.status} ${REASONS[response.status] ?? "Error"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      "connection: close\r\n\r\n";
    await writeAll(conn, concatBytes(encoder.encode(headText), body)).catch(() => {});
    return;
  }
  await relayTunnel(conn, tunnel, encoder.encode("HTTP/1.1 200 OK\r\n\r\n"), rest, early);
}

/**
 * Relays a tunnel's bytes both ways until both sides are done, then ends it.
 *
 * @param conn the client's connection, past the tunnel's head
 * @param tunnel the open tunnel
 * @param answer what tells the client the tunnel is open, sent first
 * @param first bytes the client sent with its head
 * @param early the read started while the node was dialled
 */
export async function relayTunnel(
  conn: Deno.Conn,
  tunnel: OpenedTunnel,
  answer: Uint8Array,
  first: Uint8Array,
  early: Promise<Uint8Array | null>,
): Promise<void> {
  try {
    await writeAll(conn, answer);
    await Promise.all([up(conn, tunnel, first, early), down(conn, tunnel)]);
  } catch {
    // Either side went away: the tunnel is over.
  } finally {
    tunnel.finish();
    closeQuietly(tunnel.conn);
  }
}

/**
 * User → node: what came with the head, what was read while dialling, then
 * the rest; then a half-close toward the node.
 */
async function up(
  conn: Deno.Conn,
  tunnel: OpenedTunnel,
  first: Uint8Array,
  early: Promise<Uint8Array | null>,
): Promise<void> {
  const dialling = await early;
  for (const bytes of [first, dialling ?? new Uint8Array()]) {
    if (!bytes.length) continue;
    tunnel.countUp(bytes.length);
    await writeAll(tunnel.conn, bytes);
  }
  if (dialling === null) return await tunnel.conn.closeWrite();
  await copy(conn, tunnel.conn, tunnel.countUp);
}

/**
 * Reads while the node is dialled: an end means the client left (`left` is
 * aborted, which cancels the dial); bytes are the first the client sends
 * through the tunnel (`early`, for {@link relayTunnel}).
 */
export function readWhileDialling(
  conn: Deno.Conn,
): { early: Promise<Uint8Array | null>; left: AbortSignal } {
  const left = new AbortController();
  const early = readOnce(conn);
  early.then((bytes) => bytes === null && left.abort(), () => left.abort());
  return { early, left: left.signal };
}

/** One read of `conn`: its bytes, or null at its end. */
async function readOnce(conn: Deno.Conn): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(READ_SIZE);
  const n = await conn.read(buffer);
  return n === null ? null : buffer.subarray(0, n);
}

/** Node → user; the node's end half-closes the client's connection (close_notify on TLS). */
function down(conn: Deno.Conn, tunnel: OpenedTunnel): Promise<void> {
  return copy(tunnel.conn, conn, tunnel.countDown);
}

/**
 * Copies `from` to `to`, counted, reads overlapping writes, then half-closes
 * `to`. One read buffer serves throughout: batchCopy copies each read at once.
 */
async function copy(from: Deno.Conn, to: Deno.Conn, count: (n: number) => void): Promise<void> {
  const buffer = new Uint8Array(READ_SIZE);
  await batchCopy(async () => {
    const n = await from.read(buffer);
    if (n === null) return null;
    count(n);
    return [buffer.subarray(0, n)];
  }, (batch) => writeAll(to, batch));
  await to.closeWrite();
}

/** Reads `CONNECT <target> HTTP/1.1` and its headers; returns whatever came after them. */
async function readHead(
  conn: Deno.Conn,
): Promise<{ target: string; headers: Headers; rest: Uint8Array }> {
  // On timeout the conn is closed: the pending read fails, which reads as an early end.
  const read = await readWithin(conn, HEAD_TIMEOUT_MS, () => readHttpHead(conn, MAX_HEAD_BYTES));
  if (read.kind === "too large") {
    throw new BadRequest(`The tunnel head is larger than ${MAX_HEAD_BYTES} bytes.`);
  }
  if (read.kind === "ended") throw new BadRequest("The connection ended before the tunnel head.");
  return parseHead(read.head, read.rest);
}

function parseHead(text: string, rest: Uint8Array) {
  const [requestLine, ...lines] = text.split("\r\n");
  const match = /^CONNECT (\/\S*) HTTP\/1\.1$/.exec(requestLine);
  if (!match) {
    throw new BadRequest(`The tunnel head must start with "${TUNNEL_METHOD} <path> HTTP/1.1".`);
  }
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new BadRequest(`Malformed header line in the tunnel head.`);
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      throw new BadRequest(`Malformed header line in the tunnel head.`);
    }
  }
  return { target: match[1], headers, rest };
}
