/**
 * Background work that must not slow what runs beside it. Postern's relays
 * and the work auth does after the fact (indexing recordings for search)
 * share one event loop, and a step of background work yielding between
 * steps is not enough: it still takes the loop whenever it can, so live
 * traffic gets only what is left. Measured (issue 17): indexing the 300 MB
 * a recorded `cat` carried took 11 s of CPU per 50 MB, and while it ran every
 * tunnel of the same process moved a third of its usual rate. Paced steps
 * run one at a time and each is followed by a rest in proportion to how long
 * it took, so that together they take at most a set share of the loop.
 *
 * That share is what background work may take beside light traffic. While
 * the process is busy besides (it spent more than half of the last rest on
 * CPU: a bulk transfer through a relay, a burst of logins), the steps take
 * only a smaller share, so that the busy work keeps nearly all of the loop;
 * the full share comes back once the process quietens.
 *
 * @module
 */

import process from "node:process";

/** The process counts as busy when its CPU time during a rest exceeds this share of the rest. */
const BUSY_CPU_SHARE = 0.5;

/**
 * Runs steps of background work one at a time, each followed by a rest,
 * so that they take at most `share` of the time (`busyShare` while the
 * process is busy with other work).
 *
 * @example
 * ```ts
 * const pace = new BackgroundPace(0.25, 0.05);
 * for (const batch of batches) await pace.step(() => index(batch));
 * ```
 */
export class BackgroundPace {
  #previous: Promise<void> = Promise.resolve();
  #busy = false;

  /**
   * @param share the most of the time the steps take together, between 0 and 1
   * @param busyShare the most they take while the process is busy besides
   *   (at most `share`)
   * @param cpuMs the process's CPU time so far, ms (tests give their own)
   */
  constructor(
    private readonly share: number,
    private readonly busyShare: number = share,
    private readonly cpuMs: () => number = processCpuMs,
  ) {
    for (const value of [share, busyShare]) {
      if (!(value > 0 && value <= 1)) throw new RangeError(`share must be in (0, 1], not ${value}`);
    }
    if (busyShare > share) {
      throw new RangeError(`busyShare (${busyShare}) must not exceed share (${share})`);
    }
  }

  /** Whether the process was busy besides during the last rest. */
  get busy(): boolean {
    return this.#busy;
  }

  /**
   * Runs `work` once earlier steps (and their rests) are over.
   *
   * @param work one step: short, a few milliseconds
   * @returns what `work` returned
   */
  step<T>(work: () => Promise<T> | T): Promise<T> {
    let took = 0;
    const run = this.#previous.then(async () => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        took = performance.now() - started;
      }
    });
    this.#previous = run.then(ignore, ignore).then(() => this.#rest(took));
    return run;
  }

  /** Rests after a step that took `took` ms, and notes whether the process stayed busy meanwhile. */
  async #rest(took: number): Promise<void> {
    const share = this.#busy ? this.busyShare : this.share;
    const ms = took * (1 - share) / share;
    if (ms <= 0) return;
    const cpuBefore = this.cpuMs();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.#busy = this.cpuMs() - cpuBefore > BUSY_CPU_SHARE * (performance.now() - started);
  }
}

function ignore(): void {}

/** CPU time of the process (every thread, user and system), ms. */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
