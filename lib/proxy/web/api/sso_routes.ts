/**
 * Single sign-on in the browser: `GET /v1/webapi/oidc/login/<connector>`
 * sends the browser to the identity provider, and the provider sends it back
 * to `GET /v1/webapi/oidc/callback`, which opens the web session and goes on
 * to the UI, or back to the sign-in page with the reason.
 *
 * The state is also kept in a short-lived cookie of this browser (SameSite
 * Lax, so the provider's redirect carries it): a callback that another
 * browser started (login CSRF) does not sign anyone in.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import type { AuthService } from "../../../auth/service.ts";
import { toUserMessage } from "../../../errors.ts";
import type { Logger } from "../../../log.ts";
import type { Router } from "../http.ts";
import { setSessionCookie } from "./guard.ts";

/** The cookie holding the state of a login in progress. */
const STATE_COOKIE = "__Host-postern_sso";
/** As long as auth keeps the login in progress. */
const STATE_MAX_AGE_S = 600;

function stateCookie(request: Request): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === STATE_COOKIE) return value.join("=");
  }
  return undefined;
}

function sameState(cookie: string | undefined, state: string | null): boolean {
  if (!cookie || !state) return false;
  const a = new TextEncoder().encode(cookie);
  const b = new TextEncoder().encode(state);
  return a.length === b.length && timingSafeEqual(a, b);
}

const CLEAR_STATE = `${STATE_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;

/** A redirect to the sign-in page that shows `message`. */
function backToLogin(message: string): Response {
  const headers = new Headers({ location: `/web/login?sso_error=${encodeURIComponent(message)}` });
  headers.append("set-cookie", CLEAR_STATE);
  return new Response(null, { status: 302, headers });
}

/** Installs the single sign-on routes. */
export function ssoRoutes(router: Router, auth: AuthService, log: Logger): void {
  router.on("GET", "/v1/webapi/oidc/login/:connector", async (_request, { params }) => {
    let started;
    try {
      started = await auth.beginSsoLogin(params.connector);
    } catch (error) {
      return backToLogin(toUserMessage(error, log, "single sign-on"));
    }
    return new Response(null, {
      status: 302,
      headers: {
        location: started.url,
        "set-cookie":
          `${STATE_COOKIE}=${started.state}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${STATE_MAX_AGE_S}`,
        "cache-control": "no-store",
      },
    });
  });

  router.on("GET", "/v1/webapi/oidc/callback", async (request, { url, remoteAddr }) => {
    if (
      !url.searchParams.has("error") &&
      !sameState(stateCookie(request), url.searchParams.get("state"))
    ) {
      return backToLogin(
        "This sign-in was not started in this browser (or took too long); start again here.",
      );
    }
    let session;
    try {
      session = await auth.finishSsoLogin(url.search, remoteAddr);
    } catch (error) {
      return backToLogin(toUserMessage(error, log, "single sign-on"));
    }
    const headers = new Headers({ location: "/web/", "cache-control": "no-store" });
    headers.append("set-cookie", setSessionCookie(session.sessionId, session.expires));
    headers.append("set-cookie", CLEAR_STATE);
    return new Response(null, { status: 302, headers });
  });
}
