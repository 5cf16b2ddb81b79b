/**
 * Port helpers for tests that start real servers on loopback.
 *
 * @module
 */

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it
 * for a listener that is closed again at once. Another process may take it in
 * between, which is rare enough for tests; servers started on it fail loudly.
 *
 * @returns a port number in the ephemeral range
 * @example
 * ```ts
 * const port = freePort();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port });
 * listener.close();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/**
 * Waits until something accepts TCP connections on 127.0.0.1:`port`.
 *
 * @param port the port to probe
 * @param timeoutMs how long to keep trying
 * @throws Error when nothing accepted in time
 * @example
 * ```ts
 * await waitForPort(2222, 5000);
 * ```
 */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`Cannot connect to 127.0.0.1:${port}: nothing accepted in ${timeoutMs} ms`, {
    cause: lastError,
  });
}
