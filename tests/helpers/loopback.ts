/**
 * Loopback TCP for tests of the code that moves bytes (lib/net): a connected
 * pair of real conns, and random payloads to push through them.
 *
 * @module
 */

/**
 * Opens two connected TCP conns on 127.0.0.1, the listener closed again.
 *
 * @returns the connecting end and the accepted end
 * @example
 * ```ts
 * const [a, b] = await tcpPair();
 * await a.write(new TextEncoder().encode("hi"));
 * a.close();
 * b.close();
 * ```
 */
export async function tcpPair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  return [a, b];
}

/**
 * Random bytes of any size (`crypto.getRandomValues` fills at most 64 KiB a call).
 *
 * @param size how many bytes
 * @returns fresh random bytes
 * @example
 * ```ts
 * const payload = randomBytes(8 * 1024 * 1024);
 * ```
 */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}
