/**
 * Accept loops that outlive a bad moment: when `accept()` fails (EMFILE or
 * ENFILE when descriptors run out, ECONNABORTED, ENOBUFS), the loop backs off
 * and tries again instead of ending, so a listener survives descriptor
 * exhaustion caused through another port. Failures are logged (at most once
 * per {@linkcode FAILURE_LOG_INTERVAL_MS}), counted, and reported by
 * {@linkcode AcceptHealth.notAcceptingReason} for `/readyz`.
 *
 * @module
 */

import type { Logger } from "../log.ts";

/** First pause after a failed accept; it doubles up to {@linkcode MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 10;
/** Longest pause between two accept attempts. */
const MAX_BACKOFF_MS = 1_000;
/** A failure this recent, with no accept since, means the listener is not accepting. */
const UNHEALTHY_FOR_MS = 5_000;
/** Failed accepts are logged at most this often (they can repeat every second). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Whether a listener is accepting, from its recent accept results. */
export class AcceptHealth {
  /** Failed accepts since start. */
  failures = 0;
  #lastFailure: { at: number; error: string } | undefined;
  #lastSuccess = 0;

  /**
   * @param what the listener, as named in messages ("SSH", "HTTPS")
   * @param now the clock
   */
  constructor(readonly what: string, private readonly now: () => number = Date.now) {}

  /** Notes a failed accept. */
  failed(error: unknown): void {
    this.failures++;
    this.#lastFailure = { at: this.now(), error: errorText(error) };
  }

  /** Notes an accepted connection. */
  accepted(): void {
    this.#lastSuccess = this.now();
  }

  /**
   * Why the listener is not accepting, or null when it is: an accept failed
   * within the last {@linkcode UNHEALTHY_FOR_MS} and none succeeded since.
   */
  notAcceptingReason(): string | null {
    const failure = this.#lastFailure;
    if (!failure || failure.at < this.#lastSuccess) return null;
    if (this.now() - failure.at > UNHEALTHY_FOR_MS) return null;
    return `the ${this.what} listener cannot accept connections: ${failure.error}`;
  }
}

/** Options of {@linkcode acceptForever}. */
export interface AcceptOptions<C> {
  /** Handles one accepted connection; must not throw. */
  onConn(conn: C): void;
  /** True once the listener is being closed on purpose: the loop ends quietly. */
  stopping(): boolean;
  health: AcceptHealth;
  log: Pick<Logger, "error" | "info">;
}

/**
 * Accepts until the listener is closed, backing off after failures.
 *
 * @param listener a TCP, TLS or Unix listener
 * @param options the handler, the stop condition, health and logger
 * @returns resolves once the listener is closed
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 0 });
 * const health = new AcceptHealth("SSH");
 * let stopping = false;
 * const done = acceptForever(listener, {
 *   onConn: (conn) => conn.close(),
 *   stopping: () => stopping,
 *   health,
 *   log: createLogger(),
 * });
 * stopping = true;
 * listener.close();
 * await done;
 * ```
 */
export async function acceptForever<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  options: AcceptOptions<C>,
): Promise<void> {
  let backoff = FIRST_BACKOFF_MS;
  let lastLogged = -Infinity;
  let unlogged = 0;
  for (;;) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (options.stopping() || error instanceof Deno.errors.BadResource) return;
      options.health.failed(error);
      unlogged++;
      if (Date.now() - lastLogged >= FAILURE_LOG_INTERVAL_MS) {
        options.log.error(`cannot accept ${options.health.what} connections; retrying`, {
          error: errorText(error),
          failures: unlogged,
          failures_total: options.health.failures,
        });
        lastLogged = Date.now();
        unlogged = 0;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      continue;
    }
    if (backoff !== FIRST_BACKOFF_MS) {
      options.log.info(`accepting ${options.health.what} connections again`, {
        failures_total: options.health.failures,
      });
      backoff = FIRST_BACKOFF_MS;
    }
    options.health.accepted();
    options.onConn(conn);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
