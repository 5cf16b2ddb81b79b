/**
 * Copies bytes both ways between two connections until both directions end,
 * passing half-closes on, then closes both.
 *
 * @module
 */

import { writeAll } from "./bytes.ts";

/** A direction's first reads go into this much; one that fills it grows it to {@link BULK_READ_SIZE}. */
const QUIET_READ_SIZE = 16 * 1024;
const BULK_READ_SIZE = 128 * 1024;

/**
 * Pipes `a` and `b` together.
 *
 * @param a one connection
 * @param b the other
 * @returns once both directions are over and both connections are closed
 * @example
 * ```ts
 * const inner = await Deno.connect({ hostname: "127.0.0.1", port });
 * await pipeConns(outer, inner);
 * ```
 */
export async function pipeConns(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  const closeBoth = () => {
    closeQuietly(a);
    closeQuietly(b);
  };
  // A failure on either side ends both directions.
  await Promise.all([copy(a, b).catch(closeBoth), copy(b, a).catch(closeBoth)]);
  closeBoth();
}

/** Copies `from` to `to` until `from` ends, then half-closes `to`. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  let buffer = new Uint8Array(QUIET_READ_SIZE);
  for (;;) {
    const n = await from.read(buffer);
    if (n === null) break;
    await writeAll(to, buffer.subarray(0, n));
    if (n === buffer.length && n < BULK_READ_SIZE) buffer = new Uint8Array(BULK_READ_SIZE);
  }
  await to.closeWrite();
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
