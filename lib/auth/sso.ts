/**
 * Single sign-on with OpenID Connect: the authorization code flow with PKCE,
 * `state` and `nonce`, through npm:openid-client (discovery from the issuer,
 * the code redeemed at the token endpoint, and the ID token's signature,
 * issuer, audience, expiry and nonce checked, signatures against the
 * provider's JWKS too), and the mapping of the provider's claims to a
 * postern user, its roles and logins (`claims_to_roles`).
 *
 * A login in progress is kept in the store by the hash of its state, so that
 * any auth server can finish it, once.
 *
 * @module
 */

import type { Configuration } from "openid-client";
import type { Config } from "../config/config.ts";
import { AccessDenied, BadRequest, NotFound, Unauthenticated, Unavailable } from "../errors.ts";
import { hashSecret, type Store } from "../store/store.ts";

/** A connector as configured. */
export type ConnectorConfig = Config["auth"]["connectors"][number];

/** The OpenID client library, loaded at the first SSO login: start-up does not wait for it. */
const openidClient = () => import("openid-client");

/** How long the user has at the provider before the callback. */
const LOGIN_TTL_MS = 10 * 60_000;
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
const LOGIN = /^[a-z_][a-z0-9_.-]{0,31}$/;

/** Who the provider says signed in, mapped to postern. */
export interface SsoIdentity {
  connector: string;
  user: string;
  roles: string[];
  logins: string[];
  /** The provider's subject (`sub`), for the audit log. */
  subject: string;
}

/** The callback path on every proxy. */
export const SSO_CALLBACK_PATH = "/v1/webapi/oidc/callback";

function claimValues(claims: Record<string, unknown>, name: string): string[] {
  const value = claims[name];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/** `{{email.local}}` and `{{claims.<name>}}` filled in from the claims; null when one is missing. */
function expand(template: string, claims: Record<string, unknown>): string | null {
  let missing = false;
  const out = template.replace(/\{\{\s*([a-z_.:-]+)\s*\}\}/gi, (_all, name: string) => {
    const value = name === "email.local"
      ? claimValues(claims, "email")[0]?.split("@")[0]
      : name.startsWith("claims.")
      ? claimValues(claims, name.slice("claims.".length))[0]
      : undefined;
    if (value === undefined) missing = true;
    return value ?? "";
  });
  return missing ? null : out.toLowerCase();
}

/**
 * The postern user the claims stand for, with the roles and logins the
 * connector's `claims_to_roles` grant (logins that are not Unix names are dropped).
 *
 * @throws AccessDenied when no mapping matches or the name is unusable
 */
export function mapClaims(
  connector: ConnectorConfig,
  claims: Record<string, unknown>,
): SsoIdentity {
  const named = claimValues(claims, connector.username_claim)[0] ??
    claimValues(claims, "email")[0]?.split("@")[0];
  const user = named?.toLowerCase();
  if (!user || !USER_NAME.test(user)) {
    throw new AccessDenied(
      `Your ${connector.name} account's name ${
        JSON.stringify(named ?? "")
      } cannot be a postern user name (lowercase letters, digits, ".", "_", "-"); ask an administrator to set username_claim.`,
    );
  }
  const roles = new Set<string>();
  const logins = new Set<string>();
  for (const mapping of connector.claims_to_roles) {
    if (!claimValues(claims, mapping.claim).includes(mapping.value)) continue;
    mapping.roles.forEach((role) => roles.add(role));
    for (const template of mapping.logins) {
      const login = expand(template, claims);
      if (login !== null && LOGIN.test(login)) logins.add(login);
    }
  }
  if (roles.size === 0) {
    throw new AccessDenied(
      `Your ${connector.name} account is in no group that grants access to postern; ask an administrator.`,
    );
  }
  return {
    connector: connector.name,
    user,
    roles: [...roles],
    logins: [...logins],
    subject: String(claims.sub ?? ""),
  };
}

/** `https://host[:port]` of a proxy's address; BadRequest for anything else. */
function originOf(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch { /* below */ }
  const bare = url && url.pathname === "/" && !url.search && !url.hash && !url.username;
  if (!url || url.protocol !== "https:" || !bare) {
    throw new BadRequest(`Not a proxy origin (https://host:port): ${JSON.stringify(value)}.`);
  }
  return url.origin;
}

/** Whether openid-client may talk plain HTTP to the issuer (loopback, for tests and development). */
function isLoopbackHttp(url: URL): boolean {
  return url.protocol === "http:" &&
    ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** The OIDC connectors of the cluster. */
export class SsoLogins {
  #discovered = new Map<string, Promise<Configuration>>();

  constructor(
    private readonly store: Store,
    private readonly connectors: ConnectorConfig[],
    private readonly now: () => number,
  ) {}

  #connector(name: string): ConnectorConfig {
    const connector = this.connectors.find((c) => c.name === name);
    if (!connector) {
      throw new NotFound(
        `No single sign-on connector "${name}"; those configured: ${
          this.connectors.map((c) => c.name).join(", ") || "none"
        }.`,
      );
    }
    return connector;
  }

  /** The provider's configuration, discovered once (again after a failure). */
  #configuration(connector: ConnectorConfig): Promise<Configuration> {
    let found = this.#discovered.get(connector.name);
    if (!found) {
      found = this.#discover(connector);
      this.#discovered.set(connector.name, found);
      found.catch(() => this.#discovered.delete(connector.name));
    }
    return found;
  }

  async #discover(connector: ConnectorConfig): Promise<Configuration> {
    const issuer = new URL(connector.issuer_url);
    let secret: string | undefined;
    if (connector.client_secret_file) {
      try {
        secret = (await Deno.readTextFile(connector.client_secret_file)).trim();
      } catch (error) {
        throw new Unavailable(
          `Cannot read the client secret of connector "${connector.name}" (${connector.client_secret_file}); check the file.`,
          { cause: error },
        );
      }
    }
    const oidc = await openidClient();
    try {
      const config = await oidc.discovery(
        issuer,
        connector.client_id,
        secret,
        undefined,
        isLoopbackHttp(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
      // ID token signatures are checked against the provider's keys, not only TLS.
      oidc.enableNonRepudiationChecks(config);
      return config;
    } catch (error) {
      throw new Unavailable(
        `Cannot reach the identity provider of "${connector.name}" (${issuer.origin}); try again later or ask an administrator.`,
        { cause: error },
      );
    }
  }

  /**
   * Starts a login: a fresh state, nonce and PKCE verifier kept in the store.
   *
   * @param proxyOrigin `https://host:port` of the proxy the login starts on:
   *   its callback is the redirect URL unless the connector names one
   * @returns the provider's authorization URL, and the state the browser must bring back
   */
  async begin(name: string, proxyOrigin: string): Promise<{ url: string; state: string }> {
    const connector = this.#connector(name);
    const redirectUri = connector.redirect_url ?? `${originOf(proxyOrigin)}${SSO_CALLBACK_PATH}`;
    const config = await this.#configuration(connector);
    const oidc = await openidClient();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const now = this.now();
    await this.store.ssoRequests.put({
      stateHash: hashSecret(state),
      connector: connector.name,
      nonce,
      codeVerifier,
      redirectUri,
      expires: now + LOGIN_TTL_MS,
    }, now);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: connector.scopes.join(" "),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { url: url.href, state };
  }

  /**
   * Finishes a login from the callback's query string: the state must be one
   * this cluster issued and not used yet; the code is redeemed with its PKCE
   * verifier and the ID token checked; userinfo claims are added when the
   * provider has that endpoint.
   *
   * @param query the callback URL's query (`?code=...&state=...`)
   * @throws Unauthenticated with a message for the user
   */
  async finish(query: string): Promise<SsoIdentity> {
    const params = new URLSearchParams(query);
    const state = params.get("state");
    const error = params.get("error");
    if (error) {
      const description = params.get("error_description");
      throw new Unauthenticated(
        `The identity provider refused the sign-in (${error}${
          description ? `: ${description.slice(0, 200)}` : ""
        }).`,
      );
    }
    const request = state ? await this.store.ssoRequests.take(hashSecret(state), this.now()) : null;
    if (!state || !request) {
      throw new Unauthenticated(
        "This sign-in link is unknown, used or expired; start again from the sign-in page.",
      );
    }
    const connector = this.#connector(request.connector);
    const config = await this.#configuration(connector);
    const oidc = await openidClient();
    const callback = new URL(request.redirectUri);
    callback.search = params.toString();
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: request.codeVerifier,
        expectedState: state,
        expectedNonce: request.nonce,
        idTokenExpected: true,
      });
      claims = { ...tokens.claims() };
      if (config.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims };
      }
    } catch (cause) {
      throw new Unauthenticated(
        `The sign-in through ${connector.name} could not be verified (${
          describeOidcError(cause)
        }); start again from the sign-in page.`,
        { cause },
      );
    }
    return mapClaims(connector, claims);
  }

  /** The connectors' names and labels, for the sign-in page. */
  list(): { name: string; display: string }[] {
    return this.connectors.map((c) => ({ name: c.name, display: c.display ?? c.name }));
  }
}

/**
 * A short reason for a refused ID token or code, from the library's error
 * codes and the claim it names (never its text): what an administrator
 * needs to find the cause at the provider.
 */
function describeOidcError(error: unknown): string {
  type Detailed = { code?: string; message?: string; cause?: Detailed & { claim?: string } };
  const outer = error as Detailed;
  const inner = outer?.cause;
  const details = inner?.cause as (Record<string, unknown> & { claim?: string }) | undefined;
  const code = outer?.code ?? inner?.code ?? "";
  const claim = details?.claim;
  if (claim === "nonce") return "nonce mismatch";
  if (claim === "aud" || claim === "azp") return "wrong audience";
  if (claim === "iss") return "wrong issuer";
  if (code === "OAUTH_JWT_TIMESTAMP_CHECK_FAILED") {
    return claim === "exp" ? "token expired" : `token not valid now (${claim ?? "time"})`;
  }
  if (details && "key" in details && "signature" in details) return "bad signature";
  if (/signature/i.test(inner?.message ?? "")) return "bad signature";
  if (claim === "state" || /state/i.test(outer?.message ?? "")) return "state mismatch";
  return "the provider's answer was refused";
}
