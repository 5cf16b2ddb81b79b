/**
 * Request authentication for the API: the session cookie, the CSRF token on
 * state-changing requests, and permission checks. Handlers get the caller's
 * identity or never run.
 *
 * @module
 */

import { CERT_AUTH_PREFIX } from "../../../net/cert_request.ts";
import { AccessDenied, Unauthenticated } from "../../../errors.ts";
import { timingSafeEqual } from "node:crypto";
import type { AuthService, UserProof, WebSessionView } from "../../../auth/service.ts";
import type { Permission } from "../../../auth/roles.ts";
import type { Handler, RequestContext } from "../http.ts";
import { certRequestSession } from "./cert_auth.ts";

/** The session cookie; `__Host-` forces Secure, Path=/ and no Domain. */
export const SESSION_COOKIE = "__Host-postern_session";
/** Header carrying the CSRF token. */
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The caller of a request: who they are, and the proof auth checks for every call made for them. */
export interface ActiveWebSession extends WebSessionView {
  proof: UserProof;
  /** Constant-time check of a CSRF token against this session's. */
  checkCsrf(token: string | null | undefined): boolean;
}

/** Looks up the web session of a cookie value; Unauthenticated when absent or expired. */
export async function activeWebSession(
  auth: AuthService,
  sessionId: string,
): Promise<ActiveWebSession> {
  const view = await auth.getWebSession(sessionId);
  const expected = new TextEncoder().encode(view.csrfToken);
  return {
    ...view,
    proof: { kind: "web_session", sessionId },
    checkCsrf(token) {
      if (!token) return false;
      const given = new TextEncoder().encode(token);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/** The session cookie value of a request, if any. */
export function sessionCookie(request: Request): string | undefined {
  const header = request.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === SESSION_COOKIE) return value.join("=");
  }
  return undefined;
}

/**
 * Refuses a request a browser sent from another site's page: its `Origin`,
 * when it has one, must be this proxy's own (`https://<Host>`). Clients other
 * than browsers (the CLI, curl) send no Origin and pass.
 *
 * @throws AccessDenied for a foreign (or opaque `null`) Origin
 */
export function checkOrigin(request: Request): void {
  const origin = request.headers.get("origin");
  if (origin === null) return;
  const host = request.headers.get("host") ?? new URL(request.url).host;
  if (origin !== `https://${host}`) {
    throw new AccessDenied(
      `Requests from ${
        JSON.stringify(origin)
      } may not use this proxy's credential endpoints; sign in on the proxy's own page.`,
    );
  }
}

/** Set-Cookie value that stores a session id. */
export function setSessionCookie(sessionId: string, expires: Date): string {
  return `${SESSION_COOKIE}=${sessionId}; Path=/; Secure; HttpOnly; SameSite=Strict; Expires=${expires.toUTCString()}`;
}

/** Set-Cookie value that removes the session cookie. */
export function clearSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}

/** A handler that runs with the caller's web session. */
export type SessionHandler = (
  request: Request,
  context: RequestContext & { session: ActiveWebSession; sessionId: string },
) => Response | Promise<Response>;

/**
 * Wraps a handler: requires a valid session cookie, a matching CSRF token for
 * state-changing methods, and the given permission when one is named.
 */
export function withSession(
  auth: AuthService,
  handler: SessionHandler,
  permission?: Permission,
): Handler {
  return async (request, context) => {
    const authorization = request.headers.get("authorization");
    // A signed request carries no cookie, so no CSRF token either: its
    // signature covers the method and path. Reads, and DELETE (ending a session).
    if (
      authorization?.startsWith(CERT_AUTH_PREFIX) &&
      (request.method === "GET" || request.method === "DELETE")
    ) {
      const path = context.url.pathname + context.url.search;
      const session = await certRequestSession(auth, authorization, request.method, path);
      checkPermission(session, permission);
      return handler(request, { ...context, session, sessionId: "" });
    }
    const sessionId = sessionCookie(request);
    if (!sessionId) throw new Unauthenticated("Sign in first.");
    const session = await activeWebSession(auth, sessionId);
    if (!SAFE_METHODS.has(request.method) && !session.checkCsrf(request.headers.get(CSRF_HEADER))) {
      throw new AccessDenied("Missing or invalid CSRF token; reload the page and try again.");
    }
    checkPermission(session, permission);
    return handler(request, { ...context, session, sessionId });
  };
}

function checkPermission(session: ActiveWebSession, permission: Permission | undefined): void {
  if (permission && !session.identity.permissions.includes(permission)) {
    throw new AccessDenied(
      `This needs the "${permission}" permission, which your roles do not grant.`,
    );
  }
}
