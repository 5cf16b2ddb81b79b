/**
 * Small I/O helpers for the CLI.
 *
 * @module
 */

/** Writes all of `data`: `write` may take only part of it (pipes, sockets). */
export async function writeAll(
  writer: { write(data: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await writer.write(data.subarray(offset));
}

/** Synchronous {@linkcode writeAll}, for event handlers that must not reorder output. */
export function writeAllSync(
  writer: { writeSync(data: Uint8Array): number },
  data: Uint8Array,
): void {
  let offset = 0;
  while (offset < data.length) offset += writer.writeSync(data.subarray(offset));
}
