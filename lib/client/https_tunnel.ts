/**
 * `postern proxy ssh %r@%h:%p`: an OpenSSH ProxyCommand that reaches a node
 * through the proxy's HTTPS port. It opens one TLS connection (verifying the
 * pinned or system-trusted certificate) offering the raw tunnel's ALPN id;
 * when the proxy takes it, one certificate-signed `CONNECT` head is followed
 * by raw bytes both ways (lib/net/tunnel_protocol.ts). Otherwise it sends a
 * certificate-authenticated `POST .../tunnel` and copies stdin into request
 * chunks and response chunks to stdout. Both directions run at once.
 *
 * The head asks for a ticket; a proxy offering the fast path
 * (`proxy.tunnel_fast_path`) answers with one, and the tunnel continues on a
 * plain TCP connection to the same address that presents it. With
 * `--fdpass` (OpenSSH's `ProxyUseFdpass yes`), that connection is handed to
 * ssh itself (fd_socket.ts) and this process exits: no copy in between.
 *
 * @module
 */

import { AccessDenied, BadRequest, PosternError, Unavailable } from "../errors.ts";
import { type LoadedKeys, loadKeys } from "./profile.ts";
import {
  MAX_HEAD_BYTES,
  MAX_TICKET_ANSWER_BYTES,
  TICKET_ERROR,
  TICKET_HEADER,
  TICKET_LINE_PREFIX,
  TICKET_OK,
  TICKET_QUERY,
  TUNNEL_ALPN,
  TUNNEL_METHOD,
} from "../net/tunnel_protocol.ts";
import { FdSocket } from "./fd_socket.ts";
import { certAuthHeaders, loadTrust, normalizeProxy } from "./proxy_client.ts";
import { writeAll, writeAllSync } from "./io.ts";
import { batchCopy } from "../net/batch_copy.ts";
import { concatBytes, readHttpHead, readLine } from "../net/bytes.ts";
import { closeQuietly } from "../net/close_quietly.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
const READ_SIZE = 64 * 1024;
/** Decoded bytes written to stdout at once, at most. */
const FLUSH_SIZE = 256 * 1024;
/** ssh's end of the ProxyCommand's stdout, where `--fdpass` hands the connection. */
const STDOUT_FD = 1;

/** Parses `login@host:port` (port optional, IPv6 in brackets). */
export function parseProxyTarget(
  target: string,
): { login: string; host: string; port: number | null } {
  const at = target.lastIndexOf("@");
  if (at <= 0) throw new BadRequest(`"${target}" is not login@host[:port] (use %r@%h:%p).`);
  const login = target.slice(0, at);
  const rest = target.slice(at + 1);
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(rest);
  if (!match) throw new BadRequest(`"${rest}" is not host[:port].`);
  return { login, host: match[1] ?? match[2], port: match[3] ? Number(match[3]) : null };
}

/** Incremental decoder of an HTTP/1.1 chunked body. */
export class ChunkedDecoder {
  #pending = new Uint8Array(0);
  #remaining = 0;
  #state: "size" | "data" | "crlf" | "done" = "size";

  /** True after the last (zero-size) chunk. */
  get done(): boolean {
    return this.#state === "done";
  }

  /** Feeds bytes; returns the payload pieces they complete (views into `input` or copies). */
  push(input: Uint8Array): Uint8Array[] {
    let data = this.#pending.length ? concatBytes(this.#pending, input) : input;
    this.#pending = new Uint8Array(0);
    const out: Uint8Array[] = [];
    while (data.length && this.#state !== "done") {
      if (this.#state === "data") {
        const n = Math.min(this.#remaining, data.length);
        out.push(data.subarray(0, n));
        data = data.subarray(n);
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = "crlf";
      } else if (this.#state === "crlf") {
        if (data.length < 2) break;
        data = data.subarray(2);
        this.#state = "size";
      } else {
        const end = data.indexOf(10);
        if (end < 0) break;
        const size = parseInt(decoder.decode(data.subarray(0, end)).split(";")[0].trim(), 16);
        if (Number.isNaN(size)) {
          throw new Unavailable("The proxy sent a malformed chunked response.");
        }
        data = data.subarray(end + 1);
        this.#remaining = size;
        this.#state = size === 0 ? "done" : "data";
      }
    }
    if (data.length && this.#state !== "done") this.#pending = data.slice();
    return out;
  }
}

/** Reads the response head; returns status and whatever body bytes came with it. */
async function readHead(
  conn: Deno.Conn,
): Promise<{ status: number; headers: string; rest: Uint8Array }> {
  const read = await readHttpHead(conn, MAX_HEAD_BYTES);
  if (read.kind === "too large") {
    throw new Unavailable("The proxy sent an oversized response head.");
  }
  if (read.kind === "ended") {
    throw new Unavailable("The proxy closed the connection before answering.");
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(read.head)?.[1] ?? 0);
  return { status, headers: read.head, rest: read.rest };
}

/** How payload bytes travel after the heads. */
interface Framing {
  /** The request head for `path`. */
  head(path: string, host: string, keys: LoadedKeys): Promise<string>;
  /** One batch of stdin as it goes on the wire. */
  frame(data: Uint8Array): Uint8Array;
  /** Ends the upload. */
  end(conn: Deno.Conn): Promise<void>;
  /** Turns what the proxy sends into payload. */
  decoder(): { push(input: Uint8Array): Uint8Array[]; readonly done: boolean };
}

/** The raw tunnel chosen by ALPN (lib/net/tunnel_protocol.ts): one head, then bytes. */
const RAW: Framing = {
  head: async (path, host, keys) =>
    `${TUNNEL_METHOD} ${path} HTTP/1.1\r\n${
      headerLines({ host, ...await certAuthHeaders(TUNNEL_METHOD, path, keys) })
    }\r\n`,
  frame: (data) => data,
  end: (conn) => conn.closeWrite(),
  decoder: () => ({ push: (input) => [input], done: false }),
};

/** Full-duplex chunked HTTP/1.1, for proxies that do not offer the raw tunnel. */
const CHUNKED: Framing = {
  head: async (path, host, keys) =>
    `POST ${path} HTTP/1.1\r\n${
      headerLines({
        host,
        "transfer-encoding": "chunked",
        "content-type": "application/octet-stream",
        ...await certAuthHeaders("POST", path, keys),
      })
    }\r\n`,
  frame: frameChunk,
  end: (conn) => writeAll(conn, LAST_CHUNK),
  decoder: () => new ChunkedDecoder(),
};

function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
}

/**
 * Copies stdin to the proxy until EOF, then ends the upload.
 * Reading goes on while a chunk is being sent, and everything read meanwhile
 * becomes the next chunk: one TLS write per batch, not per pipe read.
 */
async function pumpUp(conn: Deno.Conn, framing: Framing): Promise<void> {
  const buffer = new Uint8Array(READ_SIZE);
  await batchCopy(async () => {
    for (;;) {
      try {
        const n = await Deno.stdin.read(buffer);
        return n === null ? null : [buffer.subarray(0, n)];
      } catch (error) {
        if ((error as { code?: string }).code !== "EINTR") throw error;
      }
    }
  }, (batch) => writeAll(conn, framing.frame(batch)));
  await framing.end(conn);
}

/** `<hex size>\r\n<data>\r\n` in one buffer, so it goes out in one TLS write. */
function frameChunk(data: Uint8Array): Uint8Array {
  const head = encoder.encode(`${data.length.toString(16)}\r\n`);
  const framed = new Uint8Array(head.length + data.length + 2);
  framed.set(head);
  framed.set(data, head.length);
  framed.set(CRLF, head.length + data.length);
  return framed;
}

/**
 * Copies response chunks to stdout until the last chunk.
 *
 * TLS hands over one record (≤16 KiB) per read, and most reads complete at
 * once because more records are already waiting. Decoded bytes gather in one
 * buffer and go to stdout in one synchronous write when 256 KiB have gathered
 * or when the next read is not ready at once (so interactive traffic is never
 * held back). Synchronous writes skip Deno's thread hand-off for each
 * asynchronous pipe write; blocking on a full pipe only stops this process
 * reading, which is the backpressure wanted (ssh drains the pipe from its own
 * poll loop, and never blocks on us).
 */
async function pumpDown(conn: Deno.Conn, first: Uint8Array, framing: Framing): Promise<void> {
  const chunked = framing.decoder();
  const out = new OutputBuffer(FLUSH_SIZE + READ_SIZE);
  const read = new Uint8Array(READ_SIZE);
  for (const piece of chunked.push(first)) out.append(piece);
  while (!chunked.done) {
    const pending = conn.read(read);
    if (!(await settledAtOnce(pending))) out.flush();
    const n = await pending;
    if (n === null) break;
    for (const piece of chunked.push(read.subarray(0, n))) out.append(piece);
    if (out.length >= FLUSH_SIZE) out.flush();
  }
  out.flush();
}

/** Bytes gathered for stdout, written synchronously. */
class OutputBuffer {
  #buffer: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.#buffer = new Uint8Array(capacity);
  }

  append(piece: Uint8Array): void {
    if (this.length + piece.length > this.#buffer.length) this.flush();
    if (piece.length > this.#buffer.length) return writeAllSync(Deno.stdout, piece);
    this.#buffer.set(piece, this.length);
    this.length += piece.length;
  }

  flush(): void {
    if (this.length === 0) return;
    writeAllSync(Deno.stdout, this.#buffer.subarray(0, this.length));
    this.length = 0;
  }
}

/**
 * Whether `promise` settles within two microtask turns: Deno completes an
 * operation whose data is already there without waiting for the event loop.
 */
async function settledAtOnce(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => (settled = true), () => (settled = true));
  await null;
  await null;
  return settled;
}

/** Options of {@link proxySsh}. */
export interface ProxySshOptions {
  /** Hand the connection to ssh over stdout (`ProxyUseFdpass yes`) and exit. */
  fdpass?: boolean;
}

/** Runs the tunnel for `login@host:port`; resolves when either side ends. */
export async function proxySsh(target: string, options: ProxySshOptions = {}): Promise<number> {
  const { login, host, port } = parseProxyTarget(target);
  const keys = await loadKeys();
  const proxy = normalizeProxy(keys.profile.proxy);
  const { conn, alpn } = await connectProxy(keys, proxy);
  const framing = alpn === TUNNEL_ALPN ? RAW : CHUNKED;
  const query = new URLSearchParams({ host, login, ...(port ? { port: String(port) } : {}) });
  // POSTERN_TUNNEL=tls keeps the whole tunnel on TLS even where the proxy offers the fast path.
  if (framing === RAW && tunnelChoice() !== "tls") query.set(TICKET_QUERY, "1");
  const path = `/v1/webapi/sites/${encodeURIComponent(keys.profile.cluster)}/tunnel?${query}`;
  if (framing === CHUNKED && options.fdpass) {
    conn.close();
    throw noFastPath("does not offer the raw tunnel on its HTTPS port");
  }
  const request = await framing.head(path, `${proxy.hostname}:${proxy.port}`, keys);
  await writeAll(conn, encoder.encode(request));
  // The chunked upload may start at once; raw bytes wait to see whether a ticket comes back.
  const uploading = framing === CHUNKED ? pumpUp(conn, framing).catch(() => {}) : undefined;
  const head = await readHead(conn);
  if (head.status !== 200) {
    conn.close();
    throw responseError(head);
  }
  const ticket = new RegExp(`^${TICKET_HEADER}:\\s*(\\S+)`, "im").exec(head.headers)?.[1];
  if (ticket === undefined) {
    if (options.fdpass) {
      conn.close();
      throw noFastPath("does not offer the fast tunnel path (proxy.tunnel_fast_path)");
    }
    return await carry(conn, framing, head.rest, uploading);
  }
  // The fast path, to the address the TLS connection reached (the same proxy or load balancer).
  const address = conn.remoteAddr.hostname;
  conn.close();
  if (options.fdpass) {
    const socket = FdSocket.connect(address, proxy.port);
    try {
      socket.writeAll(encoder.encode(`${TICKET_LINE_PREFIX}${ticket}\n`));
      checkTicketAnswer(socket.readLine(MAX_TICKET_ANSWER_BYTES));
      socket.passTo(STDOUT_FD);
    } finally {
      socket.close();
    }
    return 0;
  }
  const plain = await Deno.connect({ hostname: address, port: proxy.port });
  plain.setNoDelay(true);
  await writeAll(plain, encoder.encode(`${TICKET_LINE_PREFIX}${ticket}\n`));
  const answer = await readTicketAnswer(plain);
  return await carry(plain, RAW, answer.rest);
}

/** Opens the TLS connection to the proxy; returns it and the protocol it chose. */
async function connectProxy(
  keys: LoadedKeys,
  proxy: { hostname: string; port: number },
): Promise<{ conn: Deno.TlsConn; alpn: string | null }> {
  const trust = await loadTrust(keys.profile.proxy);
  try {
    // Nagle off: with it, the TLS Finished and each small SSH packet after
    // another waited up to 40 ms for the proxy's delayed ACK.
    const tcp = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
    tcp.setNoDelay(true);
    const conn = await Deno.startTls(tcp, {
      hostname: proxy.hostname,
      caCerts: trust.kind === "pinned" ? [trust.pem] : undefined,
      // POSTERN_TUNNEL=http keeps to plain HTTP, for a TLS-terminating load
      // balancer in front of the proxy that would not pass the raw tunnel on.
      alpnProtocols: tunnelChoice() === "http" ? ["http/1.1"] : [TUNNEL_ALPN, "http/1.1"],
    });
    return { conn, alpn: (await conn.handshake()).alpnProtocol };
  } catch (error) {
    if (error instanceof PosternError) throw error;
    throw new Unavailable(
      `Cannot reach the proxy at ${keys.profile.proxy}: ${(error as Error).message}`,
    );
  }
}

/** `POSTERN_TUNNEL`: "http", "tls", or unset (the fastest the proxy offers). */
function tunnelChoice(): string | undefined {
  return Deno.env.get("POSTERN_TUNNEL");
}

/** Copies stdin to `conn` and `conn` to stdout until the proxy's side ends. */
async function carry(
  conn: Deno.Conn,
  framing: Framing,
  first: Uint8Array,
  uploading = pumpUp(conn, framing).catch(() => {}),
): Promise<number> {
  await pumpDown(conn, first, framing).catch(() => {});
  void uploading;
  closeQuietly(conn);
  return 0;
}

/** The error a refused tunnel head stands for. */
function responseError(head: { status: number; headers: string; rest: Uint8Array }): Error {
  const chunked = /^transfer-encoding:\s*chunked/im.test(head.headers);
  const body = chunked
    ? new ChunkedDecoder().push(head.rest).map((b) => decoder.decode(b)).join("")
    : decoder.decode(head.rest);
  const message = (() => {
    try {
      return JSON.parse(body).error.message as string;
    } catch {
      return `HTTP ${head.status}`;
    }
  })();
  return head.status === 401 || head.status === 403
    ? new AccessDenied(message)
    : new Unavailable(message);
}

function noFastPath(why: string): Unavailable {
  return new Unavailable(
    `The proxy ${why}, which --fdpass needs; remove --fdpass and ProxyUseFdpass from your ssh configuration.`,
  );
}

/** Reads the proxy's answer to a ticket; returns the node's bytes that came with it. */
async function readTicketAnswer(conn: Deno.Conn): Promise<{ rest: Uint8Array }> {
  const read = await readLine(conn, MAX_TICKET_ANSWER_BYTES);
  checkTicketAnswer(read.kind === "line" ? read.text : read.kind === "too long" ? "" : null);
  return { rest: read.kind === "line" ? read.rest : new Uint8Array(0) };
}

/**
 * Checks the proxy's answer line to a ticket.
 *
 * @param line the line without its LF, or null when the proxy closed first
 * @throws AccessDenied or Unavailable with the proxy's message
 */
function checkTicketAnswer(line: string | null): void {
  if (line === TICKET_OK.trimEnd()) return;
  if (line === null) throw new Unavailable("The proxy closed the fast tunnel before answering.");
  if (!line.startsWith(TICKET_ERROR)) throw new Unavailable("The proxy sent a malformed answer.");
  const [kind, ...words] = line.slice(TICKET_ERROR.length).split(" ");
  const message = words.join(" ");
  throw kind === "access_denied" || kind === "unauthenticated"
    ? new AccessDenied(message)
    : new Unavailable(message);
}
