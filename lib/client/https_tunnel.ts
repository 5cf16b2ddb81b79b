/**
 * `postern proxy ssh %r@%h:%p`: an OpenSSH ProxyCommand that reaches a node
 * through the proxy's HTTPS port. It opens one TLS connection (verifying the
 * pinned or system-trusted certificate), sends a certificate-authenticated
 * `POST .../tunnel` with a chunked body, and then copies stdin into request
 * chunks and response chunks to stdout, both at once.
 *
 * @module
 */

import { AccessDenied, BadRequest, PosternError, Unavailable } from "../errors.ts";
import { loadKeys } from "./profile.ts";
import { certAuthHeaders, loadTrust, normalizeProxy } from "./proxy_client.ts";
import { writeAll } from "./io.ts";
import { batchCopy } from "../net/batch_copy.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
const READ_SIZE = 64 * 1024;

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
    let data = this.#pending.length ? concat(this.#pending, input) : input;
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads the response head; returns status and whatever body bytes came with it. */
async function readHead(
  conn: Deno.Conn,
): Promise<{ status: number; headers: string; rest: Uint8Array }> {
  let buffered: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  for (;;) {
    const end = findHeadEnd(buffered);
    if (end >= 0) {
      const headers = decoder.decode(buffered.subarray(0, end));
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headers)?.[1] ?? 0);
      return { status, headers, rest: buffered.slice(end + 4) };
    }
    if (buffered.length > 64 * 1024) {
      throw new Unavailable("The proxy sent an oversized response head.");
    }
    const n = await conn.read(chunk);
    if (n === null) throw new Unavailable("The proxy closed the connection before answering.");
    buffered = concat(buffered, chunk.subarray(0, n));
  }
}

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

/**
 * Copies stdin into request chunks until EOF, then sends the last chunk.
 * Reading goes on while a chunk is being sent, and everything read meanwhile
 * becomes the next chunk: one TLS write per batch, not per pipe read.
 */
async function pumpUp(conn: Deno.Conn): Promise<void> {
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
  }, (batch) => writeAll(conn, frameChunk(batch)));
  await writeAll(conn, LAST_CHUNK);
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
 * Copies response chunks to stdout until the last chunk. TLS hands over one
 * record (≤16 KiB) per read; reading goes on while stdout is written, and
 * everything decoded meanwhile goes to stdout in one write.
 */
async function pumpDown(conn: Deno.Conn, first: Uint8Array): Promise<void> {
  const chunked = new ChunkedDecoder();
  const buffer = new Uint8Array(READ_SIZE);
  let pending: Uint8Array[] | null = chunked.push(first);
  await batchCopy(async () => {
    if (pending) {
      const pieces = pending;
      pending = null;
      return pieces;
    }
    if (chunked.done) return null;
    const n = await conn.read(buffer);
    return n === null ? null : chunked.push(buffer.subarray(0, n));
  }, (batch) => writeAll(Deno.stdout, batch));
}

/** Runs the tunnel for `login@host:port`; resolves when either side ends. */
export async function proxySsh(target: string): Promise<number> {
  const { login, host, port } = parseProxyTarget(target);
  const keys = await loadKeys();
  const proxy = normalizeProxy(keys.profile.proxy);
  const trust = await loadTrust(keys.profile.proxy);
  const query = new URLSearchParams({ host, login, ...(port ? { port: String(port) } : {}) });
  const path = `/v1/webapi/sites/${encodeURIComponent(keys.profile.cluster)}/tunnel?${query}`;
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.connectTls({
      hostname: proxy.hostname,
      port: proxy.port,
      caCerts: trust.kind === "pinned" ? [trust.pem] : undefined,
    });
    await conn.handshake();
  } catch (error) {
    if (error instanceof PosternError) throw error;
    throw new Unavailable(
      `Cannot reach the proxy at ${keys.profile.proxy}: ${(error as Error).message}`,
    );
  }
  const headers = Object.entries({
    host: `${proxy.hostname}:${proxy.port}`,
    "transfer-encoding": "chunked",
    "content-type": "application/octet-stream",
    ...certAuthHeaders("POST", path, keys),
  }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await writeAll(conn, encoder.encode(`POST ${path} HTTP/1.1\r\n${headers}\r\n`));
  const uploading = pumpUp(conn).catch(() => {});
  const head = await readHead(conn);
  if (head.status !== 200) {
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
    conn.close();
    throw head.status === 401 || head.status === 403
      ? new AccessDenied(message)
      : new Unavailable(message);
  }
  await pumpDown(conn, head.rest).catch(() => {});
  void uploading;
  try {
    conn.close();
  } catch { /* closed */ }
  return 0;
}
