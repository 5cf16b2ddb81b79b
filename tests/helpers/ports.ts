/**
 * Port helpers for tests that start real servers on loopback.
 *
 * @module
 */

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago, from below the
 * kernel's ephemeral range: ports the kernel hands out by itself (to
 * outgoing connections and to listeners on port 0, such as each proxy's
 * loopback TLS listener) never come from there, so only another caller of
 * this function could take it before the server binds it, and it picks at
 * random among thousands.
 *
 * @returns a port number below the ephemeral range
 * @example
 * ```ts
 * const port = freePort();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port });
 * listener.close();
 * ```
 */
export function freePort(): number {
  const [low, high] = [10_000, ephemeralRangeStart() - 1];
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // Taken: try another.
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/** The first port of the kernel's ephemeral range (Linux), or 32768. */
function ephemeralRangeStart(): number {
  try {
    const text = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    const start = Number(text.trim().split(/\s+/)[0]);
    return start > 11_000 ? start : 32_768;
  } catch {
    return 32_768;
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
