/**
 * The Users admin page's API (permission "users"): listing, inviting,
 * editing roles and logins, the details of one user with their web
 * sessions, resetting, unlocking and removing. Every call goes to auth as
 * the signed-in administrator (`adminAs`), which checks the permission again.
 *
 * @module
 */

import type { AuthService, UserDetails, UserView } from "../../../auth/service.ts";
import { BadRequest } from "../../../errors.ts";
import { json, readJson, requireString, type Router } from "../http.ts";
import { withSession } from "./guard.ts";

/** A list of strings from a JSON body (trimmed, empties dropped); `[]` when absent. */
function stringList(body: Record<string, unknown>, field: string): string[] {
  const value = body[field];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new BadRequest(`Field "${field}" must be a list of strings.`);
  }
  return value.map((v) => v.trim()).filter(Boolean);
}

function userJson(user: UserView) {
  return {
    name: user.name,
    roles: user.roles,
    logins: user.logins,
    status: user.status,
    locked_until: user.lockedUntil?.toISOString() ?? null,
  };
}

function userDetailsJson(user: UserDetails) {
  return {
    ...userJson(user),
    created: user.created.toISOString(),
    last_login: user.lastLogin && {
      time: user.lastLogin.time.toISOString(),
      remote_addr: user.lastLogin.remoteAddr,
    },
    web_sessions: user.webSessions.map((s) => ({
      id: s.handle,
      created: s.created.toISOString(),
      last_seen: s.lastSeen.toISOString(),
      expires: s.expires.toISOString(),
    })),
  };
}

/** Installs the users routes under /v1/webapi/users. */
export function userRoutes(router: Router, auth: AuthService): void {
  router.on(
    "GET",
    "/v1/webapi/users",
    withSession(auth, async (_request, { session }) => {
      const users = await auth.adminAs(session.proof).listUsers();
      return json({ items: users.map(userJson) });
    }, "users"),
  );

  router.on(
    "POST",
    "/v1/webapi/users",
    withSession(auth, async (request, { session }) => {
      const body = await readJson(request);
      const invite = await auth.adminAs(session.proof).addUser({
        name: requireString(body, "name", 32),
        roles: stringList(body, "roles"),
        logins: stringList(body, "logins"),
      }, session.identity.user);
      return json({ invite_url: invite.url, expires: invite.expires.toISOString() }, 201);
    }, "users"),
  );

  router.on(
    "GET",
    "/v1/webapi/users/:name",
    withSession(auth, async (_request, { session, params }) => {
      return json(userDetailsJson(await auth.adminAs(session.proof).getUser(params.name)));
    }, "users"),
  );

  router.on(
    "PUT",
    "/v1/webapi/users/:name",
    withSession(auth, async (request, { session, params }) => {
      const body = await readJson(request);
      const user = await auth.adminAs(session.proof).updateUser(params.name, {
        roles: body.roles === undefined ? undefined : stringList(body, "roles"),
        logins: body.logins === undefined ? undefined : stringList(body, "logins"),
      }, session.identity.user);
      return json(userJson(user));
    }, "users"),
  );

  router.on(
    "DELETE",
    "/v1/webapi/users/:name/web-sessions/:id",
    withSession(auth, async (_request, { session, params }) => {
      await auth.adminAs(session.proof).endUserWebSession(
        params.name,
        params.id,
        session.identity.user,
      );
      return json({ ok: true });
    }, "users"),
  );

  router.on(
    "POST",
    "/v1/webapi/users/:name/reset",
    withSession(auth, async (_request, { session, params }) => {
      const invite = await auth.adminAs(session.proof).resetUser(
        params.name,
        undefined,
        session.identity.user,
      );
      return json({ invite_url: invite.url, expires: invite.expires.toISOString() });
    }, "users"),
  );

  router.on(
    "POST",
    "/v1/webapi/users/:name/unlock",
    withSession(auth, async (_request, { session, params }) => {
      await auth.adminAs(session.proof).unlockUser(params.name, session.identity.user);
      return json({ ok: true });
    }, "users"),
  );

  router.on(
    "DELETE",
    "/v1/webapi/users/:name",
    withSession(auth, async (_request, { session, params }) => {
      if (params.name === session.identity.user) {
        throw new BadRequest("You cannot remove yourself.");
      }
      await auth.adminAs(session.proof).removeUser(params.name, session.identity.user);
      return json({ ok: true });
    }, "users"),
  );
}
