/**
 * A full V8 garbage collection, on demand.
 *
 * Why: V8 collects when JavaScript allocates, and a proxy whose sessions have
 * just ended allocates next to nothing, so their garbage stayed: the ssh2
 * objects of 1,000 ended tunnels (V8 heap 67 MiB, 19 MiB of it live) and the
 * native memory under their buffers, which V8 frees only when it finalises
 * the ArrayBuffers (18 MiB "external", 3 MiB after a collection). The heap
 * itself held no session: two rounds of 300 left 0.3 MiB more live objects
 * than one. Measured (issue 17): 179 MiB RSS after 1,000 sessions ended
 * against 110 MiB idle, and 106 MiB once collected and trimmed. Deno offers
 * no API for a collection, nor drives V8's memory reducer while the isolate
 * idles; V8's `gc` function does it, present when V8 was started with
 * `--expose-gc`: `deno task start`, the compiled binary (scripts/compile.ts),
 * the systemd unit and the tests start postern with
 * `--v8-flags=--expose-gc`. Elsewhere nothing happens.
 *
 * Not by turning the flag on at run time (`setFlagsFromString`), which
 * changes V8's flags under code already compiled: bench runs with that
 * showed the proxy at a third of its throughput (the `proxy:` subsystem 88
 * MB/s beside the jump host's 239), though slow runs were seen once more
 * after the change, so the cause is not pinned down.
 *
 * @module
 */

let gc: (() => void) | null | undefined;

/**
 * Collects all of V8's garbage now (a full, blocking collection: tens of
 * milliseconds with a few thousand connections). Does nothing where V8's
 * `gc` extension cannot be had (looked up once).
 *
 * @example
 * ```ts
 * collectGarbage();
 * glibcMallocTrim();
 * ```
 */
export function collectGarbage(): void {
  if (gc === undefined) gc = exposedGc();
  gc?.();
  liveAfterLast = heapBytes();
}

/**
 * Garbage below which a collection is not worth its pause, which grows with
 * what is live (~90 ms with 1,000 sessions open): one session ending among a
 * thousand leaves a few dozen KiB.
 */
export const MIN_GARBAGE_BYTES = 4 * 1024 * 1024;

/**
 * What one ended connection leaves to the collector, at least: its ssh2
 * objects, closures and buffers. Measured (issue 17): 2,000 idle tunnels
 * held 80 MiB of V8 pages, ~40 KiB each, all garbage once they ended.
 */
export const GARBAGE_PER_ENDED_CONNECTION = 32 * 1024;

let liveAfterLast = 0;

/**
 * {@link collectGarbage}, when the garbage made since the last collection
 * made here is worth it: what the heap grew by, plus what the connections
 * that ended since then left. Growth alone does not tell: objects that were
 * live at the last collection become garbage without the heap growing, so
 * sessions ending in a quiet proxy would leave theirs until the next
 * allocation-driven collection, maybe hours later.
 *
 * @param endedConnections connections that ended since the last collection
 * @param minGarbageBytes the garbage that is worth a collection
 * @returns whether it collected
 * @example
 * ```ts
 * if (collectGarbageIfWorthIt(500)) console.log("collected");
 * ```
 */
export function collectGarbageIfWorthIt(
  endedConnections: number,
  minGarbageBytes: number = MIN_GARBAGE_BYTES,
): boolean {
  const garbage = heapBytes() - liveAfterLast + endedConnections * GARBAGE_PER_ENDED_CONNECTION;
  if (garbage < minGarbageBytes) return false;
  collectGarbage();
  return true;
}

function heapBytes(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** V8's `gc` function, when V8 was started with `--expose-gc`. */
function exposedGc(): (() => void) | null {
  const fn = (globalThis as { gc?: unknown }).gc;
  return typeof fn === "function" ? fn as () => void : null;
}
