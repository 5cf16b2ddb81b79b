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
  readonly #now: () => number;

  constructor(private readonly options: FailureLimitOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfterS(address: string): number {
    const window = this.#current(address);
    if (!window || window.failures < this.options.limit) return 0;
    return Math.max(1, Math.ceil((window.ends - this.#now()) / 1000));
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
    const retryAfterS = limiter.retryAfterS(context.remoteAddr);
    if (retryAfterS > 0) {
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
    }
  };
}
