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

/** The options of V8's `gc` function (v8/src/extensions/gc-extension.cc). */
interface GcOptions {
  type: "major" | "minor";
  execution: "sync" | "async";
  /**
   * "last-resort" is V8's memory-reducing collection (what a low-memory
   * notification runs): repeated full collections until nothing more is
   * freed, which also finishes freeing the native memory under dead
   * ArrayBuffers and gives the emptied heap pages back. A "regular" one
   * leaves both for later: measured, 78 MiB of dead buffers still
   * allocated 3 s after it, and the heap's pages kept.
   */
  flavor: "regular" | "last-resort";
}

let gc: ((options: GcOptions) => void) | null | undefined;

/**
 * Collects all of V8's garbage now and gives its emptied pages back (full,
 * blocking collections: 100–300 ms with 1,000–2,000 connections open). Does nothing where V8's
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
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  liveAfterLast = heapBytes();
}

let liveAfterLast = 0;

/**
 * How much the heap (JS objects and the buffers under them) grew since the
 * last {@link collectGarbage}: garbage, or objects made live since (sessions
 * opened), which cannot be told apart without collecting.
 *
 * @returns bytes, 0 when it shrank
 * @example
 * ```ts
 * if (heapGrowth() > 64 << 20) collectGarbage();
 * ```
 */
export function heapGrowth(): number {
  return Math.max(0, heapBytes() - liveAfterLast);
}

function heapBytes(): number {
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** V8's `gc` function, when V8 was started with `--expose-gc`. */
function exposedGc(): ((options: GcOptions) => void) | null {
  const fn = (globalThis as { gc?: unknown }).gc;
  return typeof fn === "function" ? fn as (options: GcOptions) => void : null;
}
