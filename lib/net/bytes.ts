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
 * `a` followed by `b`, in a new buffer.
 *
 * @param a the first bytes
 * @param b the bytes after them
 * @returns a fresh buffer
 */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Where an HTTP head ends: the offset of the first `\r\n\r\n`, or -1.
 *
 * @param bytes what was read so far
 * @returns the offset of the blank line's `\r`, or -1 when it has not come yet
 */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
