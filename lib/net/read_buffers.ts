/**
 * Where a connection's reads land: one small buffer of its own while the
 * connection is quiet, and slabs from the process's {@link sharedBuffers}
 * pool only while it moves bulk data. An idle connection, whose read may wait
 * for hours, so holds {@link QUIET_READ_SIZE} bytes instead of a slab (see
 * buffer_pool.ts for why that matters).
 *
 * A read that fills the quiet buffer switches to slabs; a read shorter than
 * the quiet buffer switches back, retiring the slab. Bulk chunks are views of
 * a slab, carved like a bump allocator (no copy); quiet chunks are copies.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { QUIET_READ_SIZE, sharedBuffers } from "./buffer_pool.ts";

/** A chunk read, and what to call once its consumer is done with it. */
export interface ReadChunk {
  chunk: Buffer;
  /** Lets the slab under the chunk be reused; idempotent. */
  release: () => void;
}

/** A slab and the chunks carved from it. */
interface Slab {
  bytes: Uint8Array<ArrayBuffer>;
  used: number;
  /** Chunks carved from it and not yet released. */
  refs: number;
  /** No more chunks will be carved from it. */
  retired: boolean;
}

const noRelease = () => {};

/**
 * Read buffers for one connection: call {@link next} for the buffer of the
 * next read, then {@link take} with the count read.
 *
 * @example
 * ```ts
 * const reads = new ReadBuffers(64 * 1024, 256 * 1024, false);
 * const n = await conn.read(reads.next());
 * if (n !== null) consume(reads.take(n).chunk);
 * ```
 */
export class ReadBuffers {
  readonly #readSize: number;
  readonly #slabSize: number;
  readonly #reuse: boolean;
  #quiet: Uint8Array | undefined;
  #current: Slab | undefined;

  /**
   * @param readSize the largest bulk read
   * @param slabSize size of the slabs bulk reads are carved from (at least `readSize`)
   * @param reuse whether released chunks are really done with, so their slab
   *   may go back to the pool; otherwise retired slabs are left to the GC
   */
  constructor(readSize: number, slabSize: number, reuse: boolean) {
    this.#readSize = readSize;
    this.#slabSize = Math.max(slabSize, readSize);
    this.#reuse = reuse;
  }

  /** True while reads go to slabs. */
  get bulk(): boolean {
    return this.#current !== undefined;
  }

  /**
   * The buffer the next read goes into.
   *
   * @returns the quiet buffer, or `readSize` bytes of the current slab
   */
  next(): Uint8Array {
    let slab = this.#current;
    if (!slab) return this.#quiet ??= new Uint8Array(QUIET_READ_SIZE);
    if (slab.bytes.length - slab.used < this.#readSize) {
      this.#retire(slab);
      slab = this.#current = newSlab(this.#slabSize);
    }
    return slab.bytes.subarray(slab.used, slab.used + this.#readSize);
  }

  /**
   * The `n` bytes the last read put in the buffer from {@link next}.
   *
   * @param n bytes read
   * @returns the chunk and its release
   */
  take(n: number): ReadChunk {
    const slab = this.#current;
    if (!slab) {
      const quiet = this.#quiet!;
      const chunk = Buffer.from(quiet.subarray(0, n));
      if (n === quiet.length) this.#current = newSlab(this.#slabSize);
      return { chunk, release: noRelease };
    }
    const chunk = Buffer.from(slab.bytes.buffer, slab.bytes.byteOffset + slab.used, n);
    slab.used += n;
    slab.refs++;
    if (n < QUIET_READ_SIZE) this.close();
    let released = false;
    return {
      chunk,
      release: () => {
        if (released) return;
        released = true;
        slab.refs--;
        this.#recycle(slab);
      },
    };
  }

  /** Back to quiet reads: the current slab goes back once its chunks are released. */
  close(): void {
    if (this.#current) this.#retire(this.#current);
    this.#current = undefined;
  }

  #retire(slab: Slab): void {
    slab.retired = true;
    this.#recycle(slab);
  }

  #recycle(slab: Slab): void {
    if (!this.#reuse || !slab.retired || slab.refs > 0) return;
    // Given back once: later calls for this slab find it no longer retired.
    slab.retired = false;
    sharedBuffers.give(slab.bytes);
  }
}

function newSlab(size: number): Slab {
  return { bytes: sharedBuffers.take(size), used: 0, refs: 0, retired: false };
}
