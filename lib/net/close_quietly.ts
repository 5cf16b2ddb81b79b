/**
 * Closing a connection that may be closed already, where either is fine, and
 * closing one whose peer is too slow to send what is read from it.
 *
 * @module
 */

/**
 * Closes `conn`, ignoring that it was closed already.
 *
 * @example
 * ```ts
 * const timer = setTimeout(() => closeQuietly(conn), 10_000);
 * ```
 */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/**
 * Runs `read` (reads of `conn`), closing `conn` if it has not finished within
 * `timeoutMs`: the pending read then fails, and `read` with it.
 *
 * @param conn the connection `read` reads
 * @param timeoutMs how long the peer has to send it
 * @param read what to read
 * @returns what `read` returned
 * @example
 * ```ts
 * const head = await readWithin(conn, 10_000, () => readHttpHead(conn, 16 * 1024));
 * ```
 */
export async function readWithin<T>(
  conn: Deno.Conn,
  timeoutMs: number,
  read: () => Promise<T>,
): Promise<T> {
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    return await read();
  } finally {
    clearTimeout(timer);
  }
}
