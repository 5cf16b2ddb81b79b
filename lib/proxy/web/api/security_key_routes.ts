/**
 * Security keys and passkeys (WebAuthn) in the API: the challenges a
 * browser answers to sign in (with the password, or alone with a passkey),
 * to register a key at sign-up, the Account page's list of keys with adding
 * (password again first) and removing, and the per-session second factor a
 * web terminal may need first.
 *
 * @module
 */

import type { AuthService, SecurityKeyView } from "../../../auth/service.ts";
import { BadRequest } from "../../../errors.ts";
import {
  json,
  optionalObject,
  optionalString,
  readJson,
  requireString,
  type Router,
} from "../http.ts";
import { type CheckedRoute, loggedIn } from "./auth_routes.ts";
import { withSession } from "./guard.ts";

function keyJson(key: SecurityKeyView) {
  return {
    id: key.id,
    name: key.name,
    created: key.created.toISOString(),
    last_used: key.lastUsed?.toISOString() ?? null,
    passkey: key.passkey,
  };
}

function requireAnswer(body: Record<string, unknown>): unknown {
  const answer = optionalObject(body, "webauthn_response");
  if (answer === undefined) throw new BadRequest(`Field "webauthn_response" is required.`);
  return answer;
}

/** Installs the security key routes; `checked` installs those that check a credential. */
export function securityKeyRoutes(router: Router, auth: AuthService, checked: CheckedRoute): void {
  // A challenge for the named user's keys; without a name, for any passkey.
  checked("POST", "/v1/webapi/mfa/login/begin", async (request) => {
    const body = await readJson(request);
    const user = optionalString(body, "user");
    if (user !== undefined && user.length > 64) throw new BadRequest(`Field "user" is too long.`);
    return json(await auth.beginWebAuthnLogin(user?.trim() ?? null));
  });

  checked("POST", "/v1/webapi/sessions/passwordless", async (request, { remoteAddr }) => {
    const body = await readJson(request);
    return loggedIn(auth, await auth.createPasskeyWebSession(requireAnswer(body), remoteAddr));
  });

  checked("POST", "/v1/webapi/invites/:token/webauthn", async (_request, { params }) => {
    return json(await auth.beginInviteWebAuthn(params.token));
  });

  router.on(
    "GET",
    "/v1/webapi/mfa/devices",
    withSession(auth, async (_request, { session }) => {
      const factors = await auth.listSecondFactors(session.proof);
      return json({ totp: factors.totp, keys: factors.keys.map(keyJson) });
    }),
  );

  checked(
    "POST",
    "/v1/webapi/mfa/webauthn/begin",
    withSession(auth, async (request, { session }) => {
      const body = await readJson(request);
      return json(
        await auth.beginWebAuthnRegistration(session.proof, requireString(body, "password", 1024)),
      );
    }),
  );

  router.on(
    "POST",
    "/v1/webapi/mfa/webauthn/finish",
    withSession(auth, async (request, { session, remoteAddr }) => {
      const body = await readJson(request);
      const key = await auth.finishWebAuthnRegistration(
        session.proof,
        requireString(body, "name", 64),
        requireAnswer(body),
        remoteAddr,
      );
      return json(keyJson(key), 201);
    }),
  );

  // The per-session second factor of roles with require_session_mfa (web terminals).
  router.on(
    "GET",
    "/v1/webapi/mfa/session",
    withSession(auth, async (_request, { session }) => {
      return json({ required: await auth.needsSessionMfa(session.proof) });
    }),
  );

  checked(
    "POST",
    "/v1/webapi/mfa/session",
    withSession(auth, async (request, { session, remoteAddr }) => {
      const body = await readJson(request);
      await auth.approveSessionMfa(session.proof, {
        otp: optionalString(body, "second_factor_token"),
        webauthn: optionalObject(body, "webauthn_response"),
      }, remoteAddr);
      return json({ ok: true });
    }),
  );

  router.on(
    "DELETE",
    "/v1/webapi/mfa/webauthn/:id",
    withSession(auth, async (_request, { session, params, remoteAddr }) => {
      await auth.removeSecurityKey(session.proof, params.id, remoteAddr);
      return json({ ok: true });
    }),
  );
}
