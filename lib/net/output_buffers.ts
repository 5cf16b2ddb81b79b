/**
 * Bytes waiting to be sent (to a socket, a file), gathered in one buffer
 * while the previous batch is being sent from a second one: many small
 * writes become few large ones, with no per-write queue entry, concatenation
 * or allocation. Both buffers come from the process's pool
 * (buffer_pool.ts) while bytes wait and go back when everything is sent, so
 * a quiet writer holds nothing large.
 *
 * @module
 */

import { sharedBuffers } from "./buffer_pool.ts";

/** Smallest buffer; they grow by doubling to the largest batch. */
const INITIAL_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * The waiting bytes and the buffer of the batch in flight.
 *
 * @example
 * ```ts
 * const output = new OutputBuffers();
 * output.append(packet);
 * while (output.length > 0) await writeAll(conn, output.takeBatch());
 * output.release();
 * ```
 */
export class OutputBuffers {
  /** The waiting bytes: `#waiting[0, #length)`. */
  #waiting = EMPTY;
  #length = 0;
  /** The buffer the batch in flight is sent from; the next batch's. */
  #spare = EMPTY;

  /** Bytes waiting. */
  get length(): number {
    return this.#length;
  }

  /** Adds `bytes` (copied) after those waiting. */
  append(bytes: Uint8Array): void {
    this.room(bytes.length).set(bytes);
    this.#length += bytes.length;
  }

  /**
   * Free space for at least `bytes` more after the waiting bytes, to fill in
   * place; {@link commit} then adds what was written there.
   *
   * @param bytes the most that will be written
   * @returns a view of the free space
   */
  room(bytes: number): Uint8Array {
    const needed = this.#length + bytes;
    if (needed > this.#waiting.length) {
      let size = Math.max(INITIAL_BYTES, this.#waiting.length * 2);
      while (size < needed) size *= 2;
      const grown = sharedBuffers.take(size);
      grown.set(this.#waiting.subarray(0, this.#length));
      sharedBuffers.give(this.#waiting);
      this.#waiting = grown;
    }
    return this.#waiting.subarray(this.#length);
  }

  /** Adds the `bytes` written at the start of the last {@link room}. */
  commit(bytes: number): void {
    this.#length += bytes;
  }

  /**
   * The waiting bytes, to send now; what is appended meanwhile waits in the
   * other buffer. The view stays valid until the next call (one batch is in
   * flight at a time).
   */
  takeBatch(): Uint8Array {
    const sending = this.#waiting;
    this.#waiting = this.#spare;
    this.#spare = sending;
    const batch = sending.subarray(0, this.#length);
    this.#length = 0;
    return batch;
  }

  /** Forgets the waiting bytes (they will never be sent). */
  drop(): void {
    this.#length = 0;
  }

  /** Gives both buffers back to the pool once nothing waits; call with no batch in flight. */
  release(): void {
    if (this.#length > 0) return;
    sharedBuffers.give(this.#spare);
    sharedBuffers.give(this.#waiting);
    this.#spare = this.#waiting = EMPTY;
  }
}
