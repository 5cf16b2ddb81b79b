/**
 * Command-line logins approved in a browser: the CLI starts one and polls
 * for its certificate; the approval page (`/web/cli-login/<code>`) shows it
 * to the signed-in user and approves it with a fresh second factor.
 *
 * @module
 */

import type { AuthService } from "../../../auth/service.ts";
import { parseDuration } from "../../../config/schema.ts";
import { BadRequest } from "../../../errors.ts";
import {
  json,
  optionalObject,
  optionalString,
  readJson,
  requireString,
  type Router,
} from "../http.ts";
import type { CheckedRoute } from "./auth_routes.ts";
import { withSession } from "./guard.ts";

function optionalTtl(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ms = typeof value === "string" ? parseDuration(value) : undefined;
  if (!ms || ms <= 0) throw new BadRequest(`Field "ttl" must be a duration like 8h.`);
  return ms;
}

/** Installs the routes; `checked` installs those that check a credential. */
export function cliLoginRoutes(router: Router, auth: AuthService, checked: CheckedRoute): void {
  checked("POST", "/v1/webapi/cli-logins", async (request, { remoteAddr }) => {
    const body = await readJson(request);
    const started = await auth.startCliLogin({
      publicKey: requireString(body, "pub_key", 16384),
      ttlMs: optionalTtl(body.ttl),
      remoteAddr,
    });
    return json({
      request_id: started.requestId,
      code: started.code,
      approve_path: `/web/cli-login/${started.code}`,
      expires: started.expires.toISOString(),
    }, 201);
  });

  // The CLI polls with its secret; the certificate comes once, when approved.
  router.on("GET", "/v1/webapi/cli-logins/:request", async (_request, { params }) => {
    const found = await auth.pollCliLogin(params.request);
    if (found.status === "pending") {
      return json({ status: "pending", expires: found.expires.toISOString() });
    }
    const { issued } = found;
    return json({
      status: "approved",
      user: issued.identity.user,
      cert: issued.cert,
      host_ca: issued.hostCa,
      cluster: issued.cluster,
      logins: issued.logins,
      roles: issued.identity.roles,
      valid_before: issued.validBefore.toISOString(),
    });
  });

  router.on(
    "GET",
    "/v1/webapi/cli-logins/code/:code",
    withSession(auth, async (_request, { session, params }) => {
      const login = await auth.getCliLogin(session.proof, params.code);
      return json({
        code: login.code,
        remote_addr: login.remoteAddr,
        created: login.created.toISOString(),
        expires: login.expires.toISOString(),
        second_factor: login.secondFactor,
      });
    }),
  );

  checked(
    "POST",
    "/v1/webapi/cli-logins/code/:code/approve",
    withSession(auth, async (request, { session, params, remoteAddr }) => {
      const body = await readJson(request);
      await auth.approveCliLogin(session.proof, params.code, {
        otp: optionalString(body, "second_factor_token"),
        webauthn: optionalObject(body, "webauthn_response"),
      }, remoteAddr);
      return json({ ok: true });
    }),
  );
}
