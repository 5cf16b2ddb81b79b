/**
 * The authentication gateway of the API: log in (web session or SSH
 * certificate), log out, invites, password and second-factor changes.
 *
 * @module
 */

import { type FailureLimiter, limitFailures } from "./failure_limit.ts";
import type { AuthService, Identity, NewWebSession } from "../../../auth/service.ts";
import { BadRequest } from "../../../errors.ts";
import { parseDuration } from "../../../config/schema.ts";
import {
  discardBody,
  type Handler,
  json,
  optionalObject,
  optionalString,
  readJson,
  requireString,
  type Router,
} from "../http.ts";
import {
  checkOrigin,
  clearSessionCookie,
  sessionCookie,
  setSessionCookie,
  withSession,
} from "./guard.ts";

/** The body every successful login and `GET sessions/current` returns. */
export function sessionBody(identity: Identity, cluster: string, csrfToken: string, expires: Date) {
  return {
    user: identity.user,
    cluster,
    csrf_token: csrfToken,
    expires: expires.toISOString(),
    roles: identity.roles,
    logins: identity.logins,
    permissions: identity.permissions,
    file_transfer: identity.fileTransfer,
  };
}

/** The response of a successful sign-in: the session body and its cookie. */
export function loggedIn(auth: AuthService, session: NewWebSession): Response {
  return json(
    sessionBody(session.identity, auth.cluster, session.csrfToken, session.expires),
    200,
    { "set-cookie": setSessionCookie(session.sessionId, session.expires) },
  );
}

function parseTtl(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ms = typeof value === "number"
    ? value * 1000
    : typeof value === "string"
    ? parseDuration(value)
    : undefined;
  if (!ms || ms <= 0) {
    throw new BadRequest(`Field "ttl" must be a duration like 8h or a number of seconds.`);
  }
  return ms;
}

/** Installs a route that checks a credential: the origin first, failures counted per address. */
export type CheckedRoute = (method: string, path: string, handler: Handler) => void;

/**
 * Installs the authentication routes; those that check a credential count
 * failures per source address in `limiter`.
 *
 * @returns the installer of such routes, for more of them (security keys)
 */
export function authRoutes(
  router: Router,
  auth: AuthService,
  limiter: FailureLimiter,
): CheckedRoute {
  const checked: CheckedRoute = (method, path, handler) => {
    const limited = limitFailures(limiter, auth, handler);
    router.on(method, path, async (request, context) => {
      // Before any credential is checked: a foreign page can neither log a
      // victim in nor spend their login attempts.
      try {
        checkOrigin(request);
      } catch (error) {
        await discardBody(request);
        throw error;
      }
      return await limited(request, context);
    });
  };
  checked("POST", "/v1/webapi/sessions", async (request, { remoteAddr }) => {
    const body = await readJson(request);
    const session = await auth.createWebSession({
      user: requireString(body, "user", 64),
      password: requireString(body, "password", 1024),
      otp: optionalString(body, "second_factor_token"),
      webauthn: optionalObject(body, "webauthn_response"),
      remoteAddr,
    });
    return loggedIn(auth, session);
  });

  router.on(
    "GET",
    "/v1/webapi/sessions/current",
    withSession(
      auth,
      (_request, { session }) =>
        json(sessionBody(session.identity, auth.cluster, session.csrfToken, session.expires)),
    ),
  );

  router.on(
    "DELETE",
    "/v1/webapi/sessions",
    withSession(auth, async (_request, { sessionId, remoteAddr }) => {
      await auth.deleteWebSession(sessionId, remoteAddr);
      return json({ ok: true }, 200, { "set-cookie": clearSessionCookie() });
    }),
  );

  router.on(
    "GET",
    "/v1/webapi/sessions/web",
    withSession(auth, async (_request, { session }) => {
      const items = await auth.listWebSessions(session.proof);
      return json({
        items: items.map((s) => ({
          id: s.handle,
          created: s.created.toISOString(),
          last_seen: s.lastSeen.toISOString(),
          expires: s.expires.toISOString(),
          current: s.handle === session.handle,
        })),
      });
    }),
  );

  router.on(
    "DELETE",
    "/v1/webapi/sessions/web/:id",
    withSession(auth, async (_request, { session, params }) => {
      await auth.endWebSession(session.proof, params.id);
      return json({ ok: true });
    }),
  );

  checked("POST", "/v1/webapi/ssh/certs", async (request, { remoteAddr }) => {
    const body = await readJson(request);
    const issued = await auth.issueUserCertificate({
      user: requireString(body, "user", 64),
      password: requireString(body, "password", 1024),
      otp: optionalString(body, "otp_token"),
      publicKey: requireString(body, "pub_key", 16384),
      ttlMs: parseTtl(body.ttl),
      remoteAddr,
    });
    return json({
      cert: issued.cert,
      host_ca: issued.hostCa,
      cluster: issued.cluster,
      logins: issued.logins,
      roles: issued.identity.roles,
      valid_before: issued.validBefore.toISOString(),
    });
  });

  checked("GET", "/v1/webapi/invites/:token", async (_request, { params }) => {
    const invite = await auth.getInvite(params.token);
    return json({ user: invite.user, kind: invite.kind, expires: invite.expires.toISOString() });
  });

  checked("POST", "/v1/webapi/invites/:token/totp", async (_request, { params }) => {
    const enrollment = await auth.beginInviteEnrollment(params.token);
    return json({
      otpauth_uri: enrollment.otpauthUri,
      qr_data_url: enrollment.qrDataUrl,
      secret: enrollment.secret,
    });
  });

  checked("POST", "/v1/webapi/invites/:token", async (request, { params, remoteAddr }) => {
    const body = await readJson(request);
    const response = optionalObject(body, "webauthn_response");
    const session = await auth.completeInvite(
      params.token,
      requireString(body, "password", 1024),
      optionalString(body, "second_factor_token"),
      remoteAddr,
      response === undefined ? undefined : { name: requireString(body, "key_name", 64), response },
    );
    return loggedIn(auth, session);
  });

  checked(
    "PUT",
    "/v1/webapi/users/password",
    withSession(auth, async (request, { session, remoteAddr }) => {
      const body = await readJson(request);
      await auth.changePassword(
        session.proof,
        requireString(body, "old_password", 1024),
        requireString(body, "new_password", 1024),
        optionalString(body, "second_factor_token"),
        remoteAddr,
        optionalObject(body, "webauthn_response"),
      );
      return json({ ok: true });
    }),
  );

  checked(
    "POST",
    "/v1/webapi/mfa/totp/begin",
    withSession(auth, async (request, { session }) => {
      const body = await readJson(request);
      const enrollment = await auth.beginTotpReenrollment(
        session.proof,
        requireString(body, "password", 1024),
      );
      return json({
        otpauth_uri: enrollment.otpauthUri,
        qr_data_url: enrollment.qrDataUrl,
        secret: enrollment.secret,
      });
    }),
  );

  checked(
    "POST",
    "/v1/webapi/mfa/totp/confirm",
    withSession(auth, async (request, { session, remoteAddr }) => {
      const body = await readJson(request);
      await auth.confirmTotpReenrollment(
        session.proof,
        requireString(body, "second_factor_token", 16),
        remoteAddr,
      );
      return json({ ok: true });
    }),
  );

  return checked;
}

export { sessionCookie };
