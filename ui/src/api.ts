/**
 * A small fetch wrapper for the postern web API: JSON in and out, the CSRF
 * header on state-changing requests, and one error type whose `message` is
 * fit to show to the user.
 *
 * @module
 */

/** The error kinds the server reports, plus `network` when it cannot be reached. */
export type ApiErrorKind =
  | "bad_parameter"
  | "access_denied"
  | "not_found"
  | "unavailable"
  | "network"
  | string;

/** A failed API call. `message` is what the user should read. */
export class ApiError extends Error {
  /** HTTP status, 0 when the server could not be reached. */
  readonly status: number;
  readonly kind: ApiErrorKind;

  constructor(status: number, kind: ApiErrorKind, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.kind = kind;
  }
}

/** Options for {@link request}. */
export interface RequestOptions {
  /** JSON request body. */
  body?: unknown;
  /**
   * Whether a 401 means "the web session is gone" (send the user to the login
   * page). False for login and invite calls, where 401 is a wrong password.
   * @default true
   */
  session?: boolean;
  /** Return the body as text instead of parsing JSON. @default false */
  text?: boolean;
}

let csrfToken = "";
let onSessionLost: (() => void) | undefined;

/** Remembers the CSRF token sent with every POST, PUT and DELETE. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** The CSRF token of the current web session ("" when signed out). */
export function getCsrfToken(): string {
  return csrfToken;
}

/** Registers what to do when an API call answers 401 (the web session expired). */
export function setSessionLostHandler(handler: () => void): void {
  onSessionLost = handler;
}

/** The error an API response that is not OK stands for, with the server's message. */
export async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { kind?: string; message?: string } })?.error;
  if (error && typeof error.message === "string") {
    return new ApiError(response.status, error.kind ?? "", error.message);
  }
  const text = response.statusText ? ` ${response.statusText}` : "";
  return new ApiError(
    response.status,
    "",
    `The server answered ${response.status}${text}. Try again in a moment.`,
  );
}

/**
 * Calls the API and returns the parsed JSON (or text) body.
 *
 * @param method HTTP method
 * @param path path starting with `/v1/webapi/`
 * @returns the decoded response body
 * @throws ApiError with a user-readable message
 * @example
 * ```ts
 * const { items } = await request<Items<Node>>("GET", `/v1/webapi/sites/${cluster}/nodes`);
 * ```
 */
export async function request<T>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { "Accept": "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(
      0,
      "network",
      "Cannot reach the postern server. Check your connection and try again.",
    );
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && options.session !== false) onSessionLost?.();
    throw error;
  }
  if (options.text) return await response.text() as T;
  if (response.status === 204) return undefined as T;
  const body = await response.text();
  return (body ? JSON.parse(body) : undefined) as T;
}

/** `/v1/webapi/sites/<cluster>` with the cluster name escaped. */
export function sitePath(cluster: string, rest: string): string {
  return `/v1/webapi/sites/${encodeURIComponent(cluster)}${rest}`;
}

/** The message to show for any thrown value. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return "Something went wrong. Reload the page and try again.";
}
