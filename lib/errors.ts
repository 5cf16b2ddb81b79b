/**
 * The few typed errors postern uses everywhere. Each carries a kind so that one
 * place turns them into HTTP responses (lib/proxy/web) and one place into SSH
 * messages (lib/proxy/ssh). Messages are written for the person who reads them:
 * "Cannot <action>: <state>", with what to do next where there is something to do.
 *
 * @module
 */

/** What went wrong, independent of the wording. Tests assert the kind. */
export type ErrorKind =
  | "bad_request"
  | "unauthenticated"
  | "access_denied"
  | "not_found"
  | "conflict"
  | "unavailable"
  | "too_large"
  | "rate_limited";

/** Base class: an error whose message is safe to show to the user. */
export class PosternError extends Error {
  /**
   * @param kind what went wrong
   * @param message text safe to show to users: never a secret, never a stack
   * @param options.cause the underlying error, for logs only
   */
  constructor(readonly kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is malformed or out of range. */
export class BadRequest extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("bad_request", message, options);
  }
}

/** The caller did not prove who they are (no, bad or expired credentials). */
export class Unauthenticated extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unauthenticated", message, options);
  }
}

/** The caller is not allowed to do this (or failed to authenticate). */
export class AccessDenied extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("access_denied", message, options);
  }
}

/** The named thing does not exist. */
export class NotFound extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("not_found", message, options);
  }
}

/** The thing exists already or its state forbids the change. */
export class Conflict extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("conflict", message, options);
  }
}

/** A dependency (node, store, network) cannot be reached right now. */
export class Unavailable extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
  }
}

/** The request body or value is larger than allowed. */
export class TooLarge extends PosternError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("too_large", message, options);
  }
}

/** Too many attempts; the caller may try again after `retryAfterS` seconds. */
export class TooManyRequests extends PosternError {
  constructor(message: string, readonly retryAfterS: number, options?: { cause?: unknown }) {
    super("rate_limited", message, options);
  }
}

/** The HTTP status of each kind: the web API and the Auth API answer alike. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  bad_request: 400,
  unauthenticated: 401,
  access_denied: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
});

/** True when `error` is a PosternError of the given kind. */
export function isKind(error: unknown, kind: ErrorKind): error is PosternError {
  return error instanceof PosternError && error.kind === kind;
}

/** What a sink for internal errors needs (a Logger fits). */
interface ErrorLog {
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * The one translation of a thrown value into text a user sees (HTTP error
 * body, SSH banner or stderr line, web terminal message): a PosternError's
 * own message, written for users; anything else is logged with `where` and
 * becomes a generic line, so no library or OS text reaches users.
 *
 * @example
 * ```ts
 * failChannel(channel, toUserMessage(error, log, "ssh session"));
 * ```
 */
export function toUserMessage(error: unknown, log: ErrorLog, where: string): string {
  if (error instanceof PosternError) return error.message;
  log.error(`internal error in ${where}`, { error: String(error) });
  return "Internal error in the postern proxy; see its log.";
}
