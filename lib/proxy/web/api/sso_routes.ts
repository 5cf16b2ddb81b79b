/**
 * Single sign-on in the browser: `GET /v1/webapi/oidc/login/<connector>`
 * sends the browser to the identity provider, and the provider sends it back
 * to `GET /v1/webapi/oidc/callback`, which opens the web session and goes on
 * to the UI (to `?next=`, a page of the UI, when the login gave one: the
 * approval page of a command-line login), or back to the sign-in page with
 * the reason.
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
/** The cookie holding where to go after the login. */
const NEXT_COOKIE = "__Host-postern_sso_next";
/** A page of the UI (never another site). */
const UI_PAGE = /^\/web\/[A-Za-z0-9_\/-]*$/;
/** As long as auth keeps the login in progress. */
const STATE_MAX_AGE_S = 600;

function cookie(request: Request, wanted: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === wanted) return value.join("=");
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
const CLEAR_NEXT = `${NEXT_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;

/** A redirect to the sign-in page that shows `message`. */
function backToLogin(message: string): Response {
  const headers = new Headers({ location: `/web/login?sso_error=${encodeURIComponent(message)}` });
  headers.append("set-cookie", CLEAR_STATE);
  headers.append("set-cookie", CLEAR_NEXT);
  return new Response(null, { status: 302, headers });
}

/** Installs the single sign-on routes. */
export function ssoRoutes(
  router: Router,
  auth: AuthService,
  log: Logger,
  publicAddr: string | undefined,
): void {
  router.on("GET", "/v1/webapi/oidc/login/:connector", async (request, { params, url }) => {
    // This proxy's own callback: at its public address, else where the browser reached it.
    const host = publicAddr ?? request.headers.get("host") ?? url.host;
    let started;
    try {
      started = await auth.beginSsoLogin(params.connector, `https://${host}`);
    } catch (error) {
      return backToLogin(toUserMessage(error, log, "single sign-on"));
    }
    const headers = new Headers({ location: started.url, "cache-control": "no-store" });
    const flags = `Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${STATE_MAX_AGE_S}`;
    headers.append("set-cookie", `${STATE_COOKIE}=${started.state}; ${flags}`);
    const next = url.searchParams.get("next");
    headers.append(
      "set-cookie",
      next && UI_PAGE.test(next)
        ? `${NEXT_COOKIE}=${encodeURIComponent(next)}; ${flags}`
        : CLEAR_NEXT,
    );
    return new Response(null, { status: 302, headers });
  });

  router.on("GET", "/v1/webapi/oidc/callback", async (request, { url, remoteAddr }) => {
    if (
      !url.searchParams.has("error") &&
      !sameState(cookie(request, STATE_COOKIE), url.searchParams.get("state"))
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
    const next = decodeURIComponent(cookie(request, NEXT_COOKIE) ?? "");
    const location = UI_PAGE.test(next) ? next : "/web/";
    const headers = new Headers({ location, "cache-control": "no-store" });
    headers.append("set-cookie", setSessionCookie(session.sessionId, session.expires));
    headers.append("set-cookie", CLEAR_STATE);
    headers.append("set-cookie", CLEAR_NEXT);
    return new Response(null, { status: 302, headers });
  });
}
