/**
 * Closing a connection that may be closed already, where either is fine.
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
