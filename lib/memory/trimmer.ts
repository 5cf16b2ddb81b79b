/**
 * Gives the memory that ended connections (and start-up) leave behind back to
 * the system: the buffers pooled for bulk transfers are let go (up to 8 MiB
 * kept after traffic: lib/net/buffer_pool.ts), V8's memory-reducing
 * collection frees them with the objects of ended connections and the native
 * memory under their buffers (collect_garbage.ts), caches registered with
 * {@link releaseOnTrim} let go (SQLite's page cache: ~2 MiB of a burst's
 * audit rows), then glibc returns the freed pages (malloc_trim.ts); in that
 * order, since the buffers are freed only by the collection. The collection
 * is skipped while the heap's growth and the ended connections cannot have
 * left {@link MIN_GARBAGE_BYTES} between them.
 * Measured (issue 17), 1,000 tunneled sessions ended beside 1,000 still open:
 * 254 MiB RSS before, 167 MiB after; the last 1,000 ended: 104 MiB, against
 * 125 MiB when the first opened.
 *
 * It runs once connection ends have paused for a couple of seconds, at most
 * every {@link TrimOptions.minIntervalMs}, and at the latest
 * {@link TrimOptions.maxDelayMs} after an end while ends keep coming (V8
 * collects on its own then, as the proxy allocates); never while sessions
 * merely sit idle, so idle sessions cost no CPU.
 *
 * @module
 */

import { sharedBuffers } from "../net/buffer_pool.ts";
import { collectGarbage, heapGrowth } from "./collect_garbage.ts";
import { glibcMallocTrim } from "./malloc_trim.ts";

/**
 * What one ended connection leaves to the collector, at least: its ssh2
 * objects, closures and buffers. Measured (issue 17): 2,000 idle tunnels
 * held 80 MiB of V8 pages, ~40 KiB each, all garbage once they ended.
 */
export const GARBAGE_PER_ENDED_CONNECTION = 32 * 1024;

/**
 * Garbage below which a collection is not worth its pause, which grows with
 * what is live (100–300 ms with 1,000–2,000 sessions open): one session
 * ending among a thousand leaves a few dozen KiB.
 */
export const MIN_GARBAGE_BYTES = 4 * 1024 * 1024;

/** Options of {@link MemoryTrimmer}. */
export interface TrimOptions {
  /**
   * Returns free memory to the system, given an estimate of the garbage the
   * ended connections left since it last collected; says whether it collected.
   * @default {giveMemoryBack}
   */
  trim?: (garbageBytes: number) => boolean;
  /**
   * Pause in connection ends after which it trims, so that a burst of ends trims once.
   * @default {2000}
   */
  delayMs?: number;
  /**
   * Least time between two trims.
   * @default {10000}
   */
  minIntervalMs?: number;
  /**
   * Longest wait for a pause after an end: ends that keep coming trim this often.
   * @default {60000}
   */
  maxDelayMs?: number;
}

/**
 * Trims once connections have ended: call {@link connectionEnded} for each.
 *
 * @example
 * ```ts
 * const trimmer = new MemoryTrimmer();
 * socket.once("close", () => trimmer.connectionEnded());
 * ```
 */
export class MemoryTrimmer {
  readonly #trim: (garbageBytes: number) => boolean;
  readonly #delayMs: number;
  readonly #minIntervalMs: number;
  readonly #maxDelayMs: number;
  #last = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the scheduled trim runs at the latest. */
  #deadline = 0;
  /** Estimated garbage made since the last collection. */
  #garbage = 0;

  /** @param options the trim function and its timing */
  constructor(options: TrimOptions = {}) {
    this.#trim = options.trim ?? giveMemoryBack;
    this.#delayMs = options.delayMs ?? 2000;
    this.#minIntervalMs = options.minIntervalMs ?? 10_000;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  /** A connection ended: (re)schedules a trim, within the timing rules. */
  connectionEnded(): void {
    this.#schedule(GARBAGE_PER_ENDED_CONNECTION);
  }

  /** Start-up is over (modules, keys, listeners): its garbage is always worth a collection. */
  startUpDone(): void {
    this.#schedule(MIN_GARBAGE_BYTES);
  }

  /** Cancels a scheduled trim (at shutdown). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(garbageBytes: number): void {
    this.#garbage += garbageBytes;
    const now = performance.now();
    if (this.#timer === undefined) this.#deadline = now + this.#maxDelayMs;
    const at = Math.max(
      Math.min(now + this.#delayMs, this.#deadline),
      this.#last + this.#minIntervalMs,
    );
    this.stop();
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#last = performance.now();
      if (this.#trim(this.#garbage)) this.#garbage = 0;
    }, at - now);
    // A pending trim must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}

/**
 * The process's trimmer: the SSH and HTTPS listeners report every connection
 * end here, so that one trim follows a burst of ends whatever port they came
 * through.
 */
export const processTrimmer: MemoryTrimmer = new MemoryTrimmer();

/**
 * Lets go of the free buffers kept for bulk transfers, frees V8's garbage
 * (when there can be enough of it to be worth the pause), then gives the C
 * heap's free pages back to the system. Both estimates count: the heap's
 * growth alone misses what was live at the last collection and ended since
 * (the sessions), and the ended connections alone miss what their traffic
 * left (a bulk transfer's buffers).
 *
 * @param garbageBytes what the connections ended since the last collection left, estimated
 * @returns whether it collected V8's garbage
 * @example
 * ```ts
 * giveMemoryBack(1000 * GARBAGE_PER_ENDED_CONNECTION);
 * ```
 */
export function giveMemoryBack(garbageBytes: number): boolean {
  sharedBuffers.clear();
  const worthIt = garbageBytes + heapGrowth() >= MIN_GARBAGE_BYTES;
  if (worthIt) collectGarbage();
  for (const release of releasers) release();
  glibcMallocTrim();
  return worthIt;
}

/** Caches of the process asked to let go of memory at each trim. */
const releasers = new Set<() => void>();

/**
 * Asks `release` to free what it caches whenever the process gives memory
 * back (before glibc returns the freed pages): SQLite's page cache fills
 * with a burst of sessions' audit rows and would otherwise stay.
 *
 * @param release frees memory; must not throw
 * @returns stops asking
 * @example
 * ```ts
 * const stop = releaseOnTrim(() => store.releaseMemory?.());
 * ```
 */
export function releaseOnTrim(release: () => void): () => void {
  releasers.add(release);
  return () => releasers.delete(release);
}
