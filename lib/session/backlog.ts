/**
 * Waiting for a sink's backlog (bytes queued, not yet sent) to fall below a
 * mark, told by the sink itself each time its backlog shrinks: a session whose
 * owner reads slowly pauses the node's output and resumes it from here, with
 * no timer polling the backlog meanwhile (issue 17).
 *
 * @module
 */

/** One wait. */
interface Waiter {
  below: number;
  listener: () => void;
}

const nothingToCancel = () => {};

/**
 * The waits on one sink's backlog: the sink calls {@link shrank} whenever it
 * sent some of it (for a Node stream: from each write's callback).
 *
 * @example
 * ```ts
 * const waiters = new BacklogWaiters(() => stream.writableLength);
 * stream.write(data, waiters.shrank);
 * const cancel = waiters.wait(256 * 1024, () => node.resume());
 * ```
 */
export class BacklogWaiters {
  readonly #backlog: () => number;
  readonly #waiting = new Set<Waiter>();

  /** @param backlog the sink's bytes queued now */
  constructor(backlog: () => number) {
    this.#backlog = backlog;
  }

  /**
   * Calls `listener` once, as soon as the backlog is below `bytes` (at once
   * when it already is).
   *
   * @param bytes the mark
   * @param listener what to call
   * @returns cancels the call (when the sink or its source closes first)
   */
  wait(bytes: number, listener: () => void): () => void {
    if (this.#backlog() < bytes) {
      listener();
      return nothingToCancel;
    }
    const waiter: Waiter = { below: bytes, listener };
    this.#waiting.add(waiter);
    return () => this.#waiting.delete(waiter);
  }

  /** The backlog shrank: calls (once) every waiter whose mark it is now below. */
  readonly shrank = (): void => {
    if (this.#waiting.size === 0) return;
    const backlog = this.#backlog();
    for (const waiter of [...this.#waiting]) {
      if (backlog >= waiter.below) continue;
      this.#waiting.delete(waiter);
      waiter.listener();
    }
  };
}
