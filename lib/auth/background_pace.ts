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
 * @module
 */

/**
 * Runs steps of background work one at a time, each followed by a rest,
 * so that they take at most `share` of the time.
 *
 * @example
 * ```ts
 * const pace = new BackgroundPace(0.25);
 * for (const batch of batches) await pace.step(() => index(batch));
 * ```
 */
export class BackgroundPace {
  #previous: Promise<void> = Promise.resolve();

  /** @param share the most of the time the steps take together, between 0 and 1 */
  constructor(private readonly share: number) {
    if (!(share > 0 && share <= 1)) throw new RangeError(`share must be in (0, 1], not ${share}`);
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
    this.#previous = run.then(ignore, ignore).then(() =>
      rest(took * (1 - this.share) / this.share)
    );
    return run;
  }
}

function ignore(): void {}

function rest(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
