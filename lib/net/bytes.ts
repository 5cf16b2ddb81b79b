/**
 * Byte helpers shared by the code that speaks the proxy's wire protocols.
 *
 * @module
 */

/**
 * Writes all of `data`: a single `write` may take only part of it (pipes, sockets).
 *
 * @param writer a conn, file or anything with `write`
 * @param data the bytes
 * @example
 * ```ts
 * await writeAll(conn, new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n"));
 * ```
 */
export async function writeAll(
  writer: { write(data: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await writer.write(data.subarray(offset));
}

/**
 * `parts` one after the other, in a new buffer.
 *
 * @param parts the bytes, in order
 * @returns a fresh buffer
 * @example
 * ```ts
 * concatBytes(head, body);
 * ```
 */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What {@link readHttpHead} found. */
export type HeadRead =
  | { kind: "head"; head: string; rest: Uint8Array }
  | { kind: "ended" }
  | { kind: "too large" };

/**
 * Reads until a blank line ends an HTTP/1.1-style head.
 *
 * @param conn where to read from
 * @param maxBytes most bytes the head may take
 * @returns the head's text (without the blank line) and the bytes read after
 *   it; or that the stream ended first (a failed read counts as an end); or
 *   that the head grew past `maxBytes`
 * @example
 * ```ts
 * const read = await readHttpHead(conn, 16 * 1024);
 * if (read.kind === "head") console.log(read.head.split("\r\n")[0]);
 * ```
 */
export async function readHttpHead(conn: Deno.Conn, maxBytes: number): Promise<HeadRead> {
  let buffered: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(16 * 1024);
  for (;;) {
    const end = headEnd(buffered);
    if (end >= 0) {
      return {
        kind: "head",
        head: new TextDecoder().decode(buffered.subarray(0, end)),
        rest: buffered.slice(end + 4),
      };
    }
    if (buffered.length > maxBytes) return { kind: "too large" };
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return { kind: "ended" };
    buffered = concatBytes(buffered, chunk.subarray(0, n));
  }
}

/** What {@link readLine} found. */
export type LineRead =
  | { kind: "line"; text: string; rest: Uint8Array }
  | { kind: "ended" }
  | { kind: "too long" };

/**
 * Reads until the first LF: one line of a line-based exchange before raw
 * bytes follow (the tunnel ticket and its answer, lib/net/tunnel_protocol.ts).
 *
 * @param conn where to read from
 * @param maxBytes most bytes the line (with its LF) may take
 * @param first bytes already read from `conn`
 * @returns the line's text (without its CR LF or LF) and the bytes read after
 *   it; or that the stream ended first (a failed read counts as an end); or
 *   that no LF came within `maxBytes`
 * @example
 * ```ts
 * const read = await readLine(conn, 1024);
 * if (read.kind === "line") console.log(read.text);
 * ```
 */
export async function readLine(
  conn: Deno.Conn,
  maxBytes: number,
  first: Uint8Array = new Uint8Array(0),
): Promise<LineRead> {
  const buffer = new Uint8Array(Math.max(maxBytes, first.length));
  buffer.set(first);
  let length = first.length;
  for (;;) {
    const end = buffer.subarray(0, length).indexOf(10);
    if (end >= 0) {
      const text = new TextDecoder().decode(buffer.subarray(0, end)).replace(/\r$/, "");
      return { kind: "line", text, rest: buffer.slice(end + 1, length) };
    }
    if (length >= maxBytes) return { kind: "too long" };
    const n = await conn.read(buffer.subarray(length)).catch(() => null);
    if (n === null) return { kind: "ended" };
    length += n;
  }
}

/** The offset of the first `\r\n\r\n` in `bytes`, or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
