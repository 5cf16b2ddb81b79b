/**
 * Small I/O helpers for the CLI.
 *
 * @module
 */

export { writeAll } from "../net/bytes.ts";

/** Synchronous {@linkcode writeAll}, for event handlers that must not reorder output. */
export function writeAllSync(
  writer: { writeSync(data: Uint8Array): number },
  data: Uint8Array,
): void {
  let offset = 0;
  while (offset < data.length) offset += writer.writeSync(data.subarray(offset));
}
