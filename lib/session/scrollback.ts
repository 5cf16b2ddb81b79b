/**
 * A live session's recent output, replayed to a party that joins: the last
 * bytes up to a capacity, copied into one ring buffer of the session's own.
 *
 * Why a copy: output chunks are views of the buffers they were read or
 * opened in (a 256 KiB read slab during bulk output, see
 * lib/net/read_buffers.ts), and keeping the views would hold those buffers
 * for as long as the session idles after a bulk `cat`. The ring grows by
 * doubling to the capacity, so a session with little output holds little,
 * and once grown it takes output with a copy and no allocation.
 *
 * @module
 */

/** Smallest ring. */
const INITIAL_BYTES = 1024;

/** The last `capacity` bytes written, oldest first. */
export class Scrollback {
  #ring = new Uint8Array(0);
  /** Where the oldest byte is. */
  #start = 0;
  #length = 0;

  /** @param capacity the most bytes kept */
  constructor(readonly capacity: number) {}

  /** Bytes kept. */
  get length(): number {
    return this.#length;
  }

  /**
   * Keeps `data` (copied), letting go of the oldest bytes beyond the capacity.
   *
   * @example
   * ```ts
   * const scrollback = new Scrollback(64 * 1024);
   * scrollback.append(new TextEncoder().encode("$ ls\r\n"));
   * ```
   */
  append(data: Uint8Array): void {
    if (data.length === 0) return;
    const kept = data.length > this.capacity ? data.subarray(data.length - this.capacity) : data;
    this.#grow(Math.min(this.capacity, this.#length + kept.length));
    const size = this.#ring.length;
    let end = (this.#start + this.#length) % size;
    const first = Math.min(kept.length, size - end);
    this.#ring.set(kept.subarray(0, first), end);
    this.#ring.set(kept.subarray(first), 0);
    end = (end + kept.length) % size;
    this.#length = Math.min(size, this.#length + kept.length);
    this.#start = (end - this.#length + size) % size;
  }

  /** The bytes kept, oldest first, in a fresh buffer. */
  contents(): Uint8Array {
    const size = this.#ring.length;
    const out = new Uint8Array(this.#length);
    const first = Math.min(this.#length, size - this.#start);
    out.set(this.#ring.subarray(this.#start, this.#start + first));
    out.set(this.#ring.subarray(0, this.#length - first), first);
    return out;
  }

  /** Makes the ring at least `bytes` long (within the capacity), keeping its contents in order. */
  #grow(bytes: number): void {
    if (bytes <= this.#ring.length) return;
    let size = Math.max(INITIAL_BYTES, this.#ring.length * 2);
    while (size < bytes) size *= 2;
    const grown = new Uint8Array(Math.min(size, this.capacity));
    grown.set(this.contents());
    this.#ring = grown;
    this.#start = 0;
  }
}
