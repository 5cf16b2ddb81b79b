/**
 * Large byte buffers shared by every connection of the process, so that an
 * idle connection holds none of them.
 *
 * Why: a connection that kept its own read slabs and write buffers (1 MiB and
 * more each) made idle sessions cost ~1.7 MiB apiece once the proxy had
 * carried bulk traffic, and the memory never came back after they ended:
 * after glibc frees one large chunk it raises its mmap threshold, so later
 * large buffers come from the heap, zero-filled (all pages resident) and
 * fragmenting it (issue 17). Connections now read into a small buffer while
 * quiet and take large buffers from this pool only while data flows, giving
 * them back when done; the pool keeps a bounded number of bytes, so in steady
 * state bulk traffic allocates nothing and idle connections hold nothing large.
 *
 * @module
 */

/** Bytes a connection reads at once while quiet (no bulk transfer). */
export const QUIET_READ_SIZE = 8 * 1024;

/**
 * A bounded free list of byte buffers, by exact size. Buffers taken are the
 * taker's until given back; their contents are whatever the last user left.
 */
export class BufferPool {
  readonly #free = new Map<number, Uint8Array<ArrayBuffer>[]>();
  readonly #maxBytes: number;
  #bytes = 0;

  /**
   * @param maxBytes most bytes kept free; buffers given back beyond this are
   *   left to the garbage collector
   */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /**
   * A buffer of exactly `size` bytes: a free one when there is one, else new.
   *
   * @param size bytes
   * @returns the buffer, now the caller's
   * @example
   * ```ts
   * const slab = sharedBuffers.take(1 << 20);
   * sharedBuffers.give(slab);
   * ```
   */
  take(size: number): Uint8Array<ArrayBuffer> {
    const buffer = this.#free.get(size)?.pop();
    if (!buffer) return new Uint8Array(size);
    this.#bytes -= size;
    return buffer;
  }

  /**
   * Gives a buffer back; the caller must hold no view of it any more.
   *
   * @param buffer a buffer from {@link take} (any whole buffer is accepted)
   */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    const size = buffer.byteLength;
    if (size === 0 || this.#bytes + size > this.#maxBytes) return;
    const list = this.#free.get(size);
    if (list) list.push(buffer);
    else this.#free.set(size, [buffer]);
    this.#bytes += size;
  }

  /**
   * Lets go of every free buffer (when connections have ended and memory goes
   * back to the system: lib/memory/trimmer.ts); later takes allocate anew.
   */
  clear(): void {
    this.#free.clear();
    this.#bytes = 0;
  }

  /** Bytes currently kept free. */
  get freeBytes(): number {
    return this.#bytes;
  }
}

/**
 * The process's pool: room for a few concurrent bulk transfers' buffers
 * (8 MiB), small beside the proxy's baseline.
 */
export const sharedBuffers: BufferPool = new BufferPool(8 * 1024 * 1024);
