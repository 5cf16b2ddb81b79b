/**
 * The ID token checks of single sign-on, against a small identity provider
 * on loopback whose token endpoint answers with the ID token each case
 * crafts (npm:jose signs it): the right one is accepted and mapped to roles
 * and logins; a wrong audience, an expired token, a bad signature, a nonce
 * mismatch and a replayed state are each refused with a clear reason.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { isKind } from "../../lib/errors.ts";
import { type ConnectorConfig, mapClaims, SsoLogins } from "../../lib/auth/sso.ts";
import { SqliteStore } from "../../lib/store/sqlite.ts";

const CLIENT_ID = "postern-test";

/** A provider whose token endpoint returns `idToken(nonce)` for every code. */
async function startFakeProvider() {
  const keys = await generateKeyPair("ES256");
  const stranger = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  let mint: (nonce: string) => Promise<string> = () => Promise.reject(new Error("unset"));
  let lastNonce = "";
  let port = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const issuer = `http://127.0.0.1:${port}`;
    if (url.pathname === "/.well-known/openid-configuration") {
      return Response.json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["ES256"],
        code_challenge_methods_supported: ["S256"],
      });
    }
    if (url.pathname === "/jwks") return Response.json({ keys: [jwk] });
    if (url.pathname === "/token") {
      await request.text();
      return Response.json({
        access_token: "at",
        token_type: "Bearer",
        expires_in: 300,
        id_token: await mint(lastNonce),
      });
    }
    return new Response("not found", { status: 404 });
  });
  port = server.addr.port;
  const issuer = `http://127.0.0.1:${port}`;
  const sign = (claims: JWTPayload, key = keys.privateKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).sign(key);
  const now = () => Math.floor(Date.now() / 1000);
  const good = (nonce: string): JWTPayload => ({
    iss: issuer,
    aud: CLIENT_ID,
    sub: "u-1",
    iat: now(),
    exp: now() + 300,
    nonce,
    email: "olga@example.com",
    preferred_username: "olga",
    groups: ["ops", "dev"],
  });
  return {
    issuer,
    /** What the next token response's ID token is, given the nonce of the login. */
    answer(fn: (nonce: string) => Promise<string>) {
      mint = fn;
    },
    setNonce(nonce: string) {
      lastNonce = nonce;
    },
    sign,
    good,
    stranger: stranger.privateKey,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

function connector(issuer: string): ConnectorConfig {
  return {
    type: "oidc",
    name: "idp",
    display: undefined,
    issuer_url: issuer,
    client_id: CLIENT_ID,
    client_secret_file: undefined,
    redirect_url: "https://localhost:3080/v1/webapi/oidc/callback",
    scopes: ["openid", "email"],
    username_claim: "preferred_username",
    claims_to_roles: [
      { claim: "groups", value: "ops", roles: ["access"], logins: ["{{email.local}}", "root"] },
      { claim: "groups", value: "admins", roles: ["admin"], logins: [] },
    ],
  };
}

Deno.test("SsoLogins checks the ID token and refuses each kind of bad one", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "postern-sso-" });
  const store = SqliteStore.open(dir);
  await using idp = await startFakeProvider();
  const logins = new SsoLogins(store, [connector(idp.issuer)], Date.now);
  /** Begins a login, and finishes it with the ID token `mint` makes. */
  const attempt = async (mint: (nonce: string) => Promise<string>) => {
    const { url, state } = await logins.begin("idp", "https://localhost:3080");
    const authorize = new URL(url);
    assert.equal(authorize.searchParams.get("code_challenge_method"), "S256");
    assert.ok(authorize.searchParams.get("code_challenge"));
    assert.equal(authorize.searchParams.get("state"), state);
    idp.setNonce(authorize.searchParams.get("nonce")!);
    idp.answer(mint);
    return { state, result: logins.finish(`?code=c0de&state=${state}`) };
  };
  const refused = async (mint: (nonce: string) => Promise<string>, reason: RegExp) => {
    const { result } = await attempt(mint);
    await assert.rejects(result, (error) => {
      assert.ok(isKind(error, "unauthenticated"), String(error));
      assert.match((error as Error).message, reason);
      return true;
    });
  };

  try {
    await t.step(
      "a good token maps to the user, roles and logins; its state is used up",
      async () => {
        const { state, result } = await attempt((nonce) => idp.sign(idp.good(nonce)));
        assert.deepEqual(await result, {
          connector: "idp",
          user: "olga",
          roles: ["access"],
          logins: ["olga", "root"],
          subject: "u-1",
        });
        await assert.rejects(
          logins.finish(`?code=c0de&state=${state}`),
          /unknown, used or expired/,
        );
      },
    );
    await t.step("wrong audience", async () => {
      await refused((nonce) => idp.sign({ ...idp.good(nonce), aud: "someone-else" }), /audience/);
    });
    await t.step("expired token", async () => {
      const past = Math.floor(Date.now() / 1000) - 3600;
      await refused(
        (nonce) => idp.sign({ ...idp.good(nonce), iat: past - 300, exp: past }),
        /expired/,
      );
    });
    await t.step("bad signature", async () => {
      await refused((nonce) => idp.sign(idp.good(nonce), idp.stranger), /signature/);
    });
    await t.step("nonce mismatch", async () => {
      await refused(() => idp.sign(idp.good("not-the-nonce")), /nonce mismatch/);
    });
    await t.step("a state this cluster never issued", async () => {
      await assert.rejects(logins.finish("?code=c0de&state=forged"), /unknown, used or expired/);
    });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mapClaims() refuses accounts no mapping grants, and unusable names", () => {
  const c = connector("https://idp.example");
  assert.throws(
    () => mapClaims(c, { sub: "1", preferred_username: "bob", groups: ["dev"] }),
    /in no group that grants access/,
  );
  assert.throws(
    () => mapClaims(c, { sub: "1", preferred_username: "Bob Smith", groups: ["ops"] }),
    /cannot be a postern user name/,
  );
  const fallback = mapClaims(c, { sub: "2", email: "eve@example.com", groups: ["ops", "admins"] });
  assert.equal(fallback.user, "eve");
  assert.deepEqual(fallback.roles, ["access", "admin"]);
});
