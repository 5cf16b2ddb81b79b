/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The signed-in user's web session, shared with every page through context.
 *
 * @module
 */

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { request, setCsrfToken } from "./api.ts";
import type { Permission, WebSession } from "./types.ts";

/** What pages get from {@link useSession}. */
export interface SessionState {
  session: WebSession;
  /** Ends the web session on the server and goes to the login page. */
  logout(): Promise<void>;
}

/** Provided by the app shell once the session is known. */
export const SessionContext = createContext<SessionState | null>(null);

/** The current session; only valid inside pages that require sign-in. */
export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error("useSession() used outside a signed-in page");
  return state;
}

/**
 * Where a user starts: Nodes when their roles grant a login, else Active
 * sessions (an auditor watches and replays; there is no node to open).
 */
export function homePath(session: WebSession): string {
  return session.logins.length > 0 ? "/web/nodes" : "/web/sessions";
}

/** Whether the session's roles grant a permission. */
export function can(session: WebSession, permission: Permission): boolean {
  return session.permissions.includes(permission);
}

/** Asks the server for the current session; throws ApiError 401 when signed out. */
export async function fetchCurrentSession(): Promise<WebSession> {
  const session = await request<WebSession>("GET", "/v1/webapi/sessions/current", {
    session: false,
  });
  setCsrfToken(session.csrf_token);
  return session;
}
