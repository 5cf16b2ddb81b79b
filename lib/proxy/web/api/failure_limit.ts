/**
 * Slows password spraying: a source address that has failed too many
 * credential checks (any user name) within a window is refused with 429 and
 * `Retry-After` until the window ends. Per-user guessing is the account
 * lockout's job (auth); this limit covers many names from one address.
 *
 * The counts live in this proxy's memory: each proxy of several limits on its
 * own, which bounds an attacker to N times the limit.
 *
 * @module
 */

import { PosternError, TooManyRequests } from "../../../errors.ts";
import { rateLimited } from "../../../metrics/metrics.ts";
import type { AuthService } from "../../../auth/service.ts";
import type { Handler } from "../http.ts";

/** Settings of a {@linkcode FailureLimiter}. */
export interface FailureLimitOptions {
  /** Failures an address may have in one window. */
  limit: number;
  windowMs: number;
  /** @default Date.now */
  now?: () => number;
}

/** Counts credential failures per source address in fixed windows. */
export class FailureLimiter {
  #windows = new Map<string, { failures: number; ends: number }>();
  #inFlight = new Map<string, number>();
  readonly #now: () => number;

  constructor(private readonly options: FailureLimitOptions) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Seconds until `address` may try again, or 0 when it may now. Checks still
   * running count as failures: a burst sent at once cannot get more checks
   * than the limit.
   */
  retryAfterS(address: string): number {
    const window = this.#current(address);
    const inFlight = this.#inFlight.get(address) ?? 0;
    if ((window?.failures ?? 0) + inFlight < this.options.limit) return 0;
    return window ? Math.max(1, Math.ceil((window.ends - this.#now()) / 1000)) : 1;
  }

  /**
   * Starts a check for `address` when it may make one.
   *
   * @returns 0 when the check may go ahead (then call {@linkcode FailureLimiter.end}
   *   after it, and {@linkcode FailureLimiter.fail} before that when it failed),
   *   else the seconds until it may
   */
  begin(address: string): number {
    const retryAfterS = this.retryAfterS(address);
    if (retryAfterS === 0) this.#inFlight.set(address, (this.#inFlight.get(address) ?? 0) + 1);
    return retryAfterS;
  }

  /** Ends a check started with {@linkcode FailureLimiter.begin}. */
  end(address: string): void {
    const left = (this.#inFlight.get(address) ?? 1) - 1;
    if (left > 0) this.#inFlight.set(address, left);
    else this.#inFlight.delete(address);
  }

  /** Counts one failure; true when it is the one that reached the limit. */
  fail(address: string): boolean {
    const now = this.#now();
    let window = this.#current(address);
    if (!window) {
      this.#prune(now);
      window = { failures: 0, ends: now + this.options.windowMs };
      this.#windows.set(address, window);
    }
    window.failures++;
    return window.failures === this.options.limit;
  }

  #current(address: string) {
    const window = this.#windows.get(address);
    return window && window.ends > this.#now() ? window : undefined;
  }

  #prune(now: number): void {
    for (const [address, window] of this.#windows) {
      if (window.ends <= now) this.#windows.delete(address);
    }
  }
}

/**
 * Error kinds that mean a credential was wrong: a bad password, code or invite
 * token (unauthenticated, not_found), or a signed-in user's wrong current
 * password (access_denied, which on these routes is otherwise a missing CSRF token).
 */
const FAILURE_KINDS = new Set(["unauthenticated", "not_found", "access_denied"]);

/**
 * Wraps a credential route: refuses an address over the limit with 429 and
 * counts the route's credential failures, auditing the moment an address
 * reaches the limit.
 */
export function limitFailures(
  limiter: FailureLimiter,
  auth: AuthService,
  handler: Handler,
): Handler {
  return async (request, context) => {
    const retryAfterS = limiter.begin(context.remoteAddr);
    if (retryAfterS > 0) {
      rateLimited.inc({ limit: "failures_per_address" });
      throw new TooManyRequests(
        `Too many failed attempts from your address; try again in ${retryAfterS} s.`,
        retryAfterS,
      );
    }
    try {
      return await handler(request, context);
    } catch (error) {
      if (error instanceof PosternError && FAILURE_KINDS.has(error.kind)) {
        if (limiter.fail(context.remoteAddr)) {
          await auth.audit({
            code: "login.rate_limited",
            remoteAddr: context.remoteAddr,
            success: false,
            fields: { path: context.url.pathname },
          });
        }
      }
      throw error;
    } finally {
      limiter.end(context.remoteAddr);
    }
  };
}
