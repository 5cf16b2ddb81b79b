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
 * idles; V8's `gc` extension does it, enabled for a context of its own
 * created here (`--expose-gc` then off again, so no other context sees it).
 * Where that fails, nothing happens.
 *
 * @module
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

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
}

function exposedGc(): (() => void) | null {
  try {
    setFlagsFromString("--expose-gc");
    const fn = runInNewContext("gc");
    return typeof fn === "function" ? fn : null;
  } catch {
    return null;
  } finally {
    try {
      setFlagsFromString("--no-expose-gc");
    } catch {
      // No V8 flags here at all.
    }
  }
}
