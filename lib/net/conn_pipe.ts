/**
 * Copies bytes both ways between a client's connection and a server's, as a
 * proxy in front of the server: the client's half-close is passed on, and
 * once the server's side ends, everything it sent is delivered and both
 * connections close.
 *
 * @module
 */

import { writeAll } from "./bytes.ts";
import { closeQuietly } from "./close_quietly.ts";

/** A direction's first reads go into this much; one that fills it grows it to {@link BULK_READ_SIZE}. */
const QUIET_READ_SIZE = 16 * 1024;
const BULK_READ_SIZE = 128 * 1024;

/**
 * Pipes a client to a server.
 *
 * @param client the client's connection
 * @param server the connection to the server
 * @returns once the server's side has ended (or either failed) and both are closed
 * @example
 * ```ts
 * const inner = await Deno.connect({ hostname: "127.0.0.1", port });
 * await pipeConns(outer, inner);
 * ```
 */
export async function pipeConns(client: Deno.Conn, server: Deno.Conn): Promise<void> {
  const closeBoth = () => {
    closeQuietly(client);
    closeQuietly(server);
  };
  // A failure on either side, or the server's end, ends both directions.
  copy(client, server).catch(closeBoth);
  await copy(server, client).catch(() => {});
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
