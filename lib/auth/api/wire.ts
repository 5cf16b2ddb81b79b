/**
 * What crosses the Auth API: JSON in which dates and byte arrays keep their
 * types (`{"$date": iso}`, `{"$bytes": base64}`), and errors as `{kind,
 * message}` that become the same {@link PosternError} kinds again on the
 * other side. Only the message crosses, never a cause or stack.
 *
 * @module
 */

import {
  AccessDenied,
  BadRequest,
  Conflict,
  type ErrorKind,
  NotFound,
  PosternError,
  TooLarge,
  TooManyRequests,
  Unauthenticated,
  Unavailable,
} from "../../errors.ts";
import { decodeBase64, encodeBase64 } from "../../sshcert/mod.ts";

/** The API's version prefix. */
export const API_PREFIX = "/v1";

/** Header naming the proof of the user a call acts for (JSON, base64url), on streaming calls. */
export const PROOF_HEADER = "x-postern-proof";

/** Serialises a value with its dates and byte arrays tagged. */
export function encodeWire(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, tagged) {
    const raw = this[key];
    if (raw instanceof Date) return { $date: raw.toISOString() };
    if (raw instanceof Uint8Array) return { $bytes: encodeBase64(raw) };
    return tagged;
  });
}

/** Parses what {@linkcode encodeWire} wrote. @throws BadRequest when it is not JSON */
export function decodeWire(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value) => {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const keys = Object.keys(value);
        if (keys.length === 1 && typeof value.$date === "string") return new Date(value.$date);
        if (keys.length === 1 && typeof value.$bytes === "string") {
          return decodeBase64(value.$bytes, "bytes");
        }
      }
      return value;
    });
  } catch (error) {
    throw new BadRequest("The Auth API request is not valid JSON.", { cause: error });
  }
}

const REBUILD: Record<ErrorKind, (message: string) => PosternError> = {
  bad_request: (m) => new BadRequest(m),
  unauthenticated: (m) => new Unauthenticated(m),
  access_denied: (m) => new AccessDenied(m),
  not_found: (m) => new NotFound(m),
  conflict: (m) => new Conflict(m),
  unavailable: (m) => new Unavailable(m),
  too_large: (m) => new TooLarge(m),
  rate_limited: (m) => new TooManyRequests(m, 60),
};

/** An error as it crosses the wire. */
export interface WireError {
  kind: ErrorKind;
  message: string;
  retryAfterS?: number;
}

/** The wire form of an error; anything not a PosternError is an internal error. */
export function errorToWire(error: unknown): WireError | null {
  if (!(error instanceof PosternError)) return null;
  return {
    kind: error.kind,
    message: error.message,
    ...(error instanceof TooManyRequests ? { retryAfterS: error.retryAfterS } : {}),
  };
}

/** The PosternError a wire error stands for. */
export function errorFromWire(wire: WireError): PosternError {
  if (wire.kind === "rate_limited") {
    return new TooManyRequests(wire.message, wire.retryAfterS ?? 60);
  }
  const rebuild = REBUILD[wire.kind] ?? ((m: string) => new Unavailable(m));
  return rebuild(String(wire.message));
}
