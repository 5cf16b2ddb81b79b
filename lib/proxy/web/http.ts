/**
 * HTTP plumbing shared by every route: a tiny router, JSON bodies with a size
 * limit, typed errors turned into JSON responses in one place, and the
 * security headers every response carries.
 *
 * @module
 */

import {
  BadRequest,
  type ErrorKind,
  HTTP_STATUS,
  PosternError,
  TooLarge,
  TooManyRequests,
  toUserMessage,
} from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { errorShown } from "../../metrics/metrics.ts";

/** Per-request facts handlers need. */
export interface RequestContext {
  url: URL;
  params: Record<string, string>;
  remoteAddr: string;
}

/** A route handler. */
export type Handler = (request: Request, context: RequestContext) => Response | Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Maps method + path patterns (`/v1/webapi/sites/:cluster/nodes`) to handlers. */
export class Router {
  #routes: Route[] = [];

  /** Adds a route; `:name` segments become `context.params.name`. */
  on(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:(\w+)/g, (_, name) => {
      names.push(name);
      return "([^/]+)";
    });
    this.#routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Finds the handler for a request: a route, 405 when only the method differs, or undefined. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | {
    allowed: string[];
  } | undefined {
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const found = route.pattern.exec(pathname);
      if (!found) continue;
      if (route.method !== method && !(method === "HEAD" && route.method === "GET")) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeParam(name, found[i + 1])));
      return { handler: route.handler, params };
    }
    return allowed.length ? { allowed } : undefined;
  }
}

/** A `%`-escaped path segment, decoded; BadRequest naming it when the escapes are malformed. */
function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequest(`The ${name} in the path has a malformed %-escape.`);
  }
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers?: HeadersInit): Response {
  const response = new Response(JSON.stringify(body), { status, headers });
  response.headers.set("content-type", "application/json; charset=utf-8");
  response.headers.set("cache-control", "no-store");
  return response;
}

/** The JSON error body every failed API call returns. */
export function errorResponse(kind: ErrorKind, message: string, extra?: object): Response {
  return json({ error: { kind, message, ...extra } }, HTTP_STATUS[kind]);
}

/** Turns any thrown value into a response; unexpected errors are logged and become a plain 500. */
export function toErrorResponse(error: unknown, log: Logger): Response {
  errorShown("https", error instanceof PosternError ? error.kind : "internal");
  if (error instanceof PosternError) {
    const response = errorResponse(error.kind, error.message);
    if (error instanceof TooManyRequests) {
      response.headers.set("retry-after", String(error.retryAfterS));
    }
    return response;
  }
  return json(
    { error: { kind: "internal", message: toUserMessage(error, log, "HTTP request") } },
    500,
  );
}

/** Largest JSON body accepted by the API. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON object body of at most `limit` bytes. The body must be sent as
 * `application/json`: a cross-site HTML form can only send form or text
 * types, and a cross-site script sending JSON needs a CORS preflight, which
 * the proxy never grants.
 */
export async function readJson(request: Request, limit = MAX_BODY_BYTES): Promise<
  Record<string, unknown>
> {
  const type = request.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    await drain(request.body);
    throw new BadRequest("Send the request body as JSON (Content-Type: application/json).");
  }
  const declared = Number(request.headers.get("content-length") ?? "0");
  const chunks: Uint8Array[] = [];
  let size = declared > limit ? declared : 0;
  if (request.body && size <= limit) {
    try {
      for await (const chunk of request.body) {
        size += chunk.byteLength;
        if (size > limit) break;
        chunks.push(chunk);
      }
    } catch (error) {
      // A malformed chunked encoding, or a body cut short.
      throw new BadRequest("Cannot read the request body: it is malformed or incomplete.", {
        cause: error,
      });
    }
  }
  if (size > limit) {
    await drain(request.body);
    throw new TooLarge(`Request body is larger than ${limit} bytes.`);
  }
  const text = new TextDecoder().decode(concat(chunks, size));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest("Request body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest("Request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}

/**
 * Reads and discards a refused request's body (up to 16 MiB), so that the
 * refusal reaches HTTP/2 clients as a response, not a stream reset.
 */
export function discardBody(request: Request): Promise<void> {
  return drain(request.body);
}

/** Most bytes of a refused body read before answering (beyond it, the stream is reset). */
const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * Reads and discards the rest of a refused body: over HTTP/2 a response sent
 * while the client is still sending came back as a stream reset, not the 413.
 */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  let drained = 0;
  try {
    for await (const chunk of body) {
      drained += chunk.byteLength;
      if (drained > MAX_DRAIN_BYTES) break;
    }
  } catch {
    // The client gave up: nothing left to answer.
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A required string field of a JSON body; BadRequest naming the field otherwise. */
export function requireString(
  body: Record<string, unknown>,
  field: string,
  maxLength = 4096,
): string {
  const value = body[field];
  if (typeof value !== "string" || value.length === 0) {
    throw new BadRequest(`Field "${field}" is required and must be a non-empty string.`);
  }
  if (value.length > maxLength) {
    throw new BadRequest(`Field "${field}" is longer than ${maxLength} characters.`);
  }
  return value;
}

/** An optional string field. */
export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new BadRequest(`Field "${field}" must be a string.`);
  return value;
}

/** An optional JSON object field (a browser's WebAuthn answer); undefined when absent. */
export function optionalObject(body: Record<string, unknown>, field: string): unknown {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new BadRequest(`Field "${field}" must be an object.`);
  }
  return value;
}

/** Content-Security-Policy: no inline scripts; WASM for the recording player. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Adds the security headers every response carries. */
export function withSecurityHeaders(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set("strict-transport-security", "max-age=31536000; includeSubDomains");
  headers.set("content-security-policy", CONTENT_SECURITY_POLICY);
  headers.set("x-frame-options", "DENY");
  headers.set("x-content-type-options", "nosniff");
  headers.set("referrer-policy", "no-referrer");
  headers.set("cross-origin-opener-policy", "same-origin");
  headers.set("permissions-policy", "camera=(), microphone=(), geolocation=()");
  return new Response(response.body, { status: response.status, headers });
}
