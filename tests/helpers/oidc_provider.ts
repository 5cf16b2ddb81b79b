/**
 * A real OpenID Provider for tests: npm:oidc-provider on loopback (plain
 * HTTP, which postern allows for loopback issuers), with its development
 * sign-in pages (any password) and test accounts whose claims include
 * `groups`.
 *
 * @module
 */

import http from "node:http";
import Provider from "oidc-provider";
import { freePort } from "./ports.ts";

/** Claims of a test account, by login name. */
export type TestAccounts = Record<string, Record<string, unknown>>;

/** A running provider. */
export interface TestProvider extends AsyncDisposable {
  issuer: string;
  /** Registers postern as a client once its callback URL is known. */
  start(redirectUri: string): Promise<void>;
}

/** The client postern is registered as. */
export const OIDC_CLIENT = { id: "postern", secret: "test-client-secret-0123456789" };

/**
 * Picks the provider's port (postern's config needs the issuer before the
 * provider knows postern's callback); {@link TestProvider.start} listens.
 */
export function testProvider(accounts: TestAccounts): TestProvider {
  const port = freePort();
  const issuer = `http://127.0.0.1:${port}`;
  let server: http.Server | undefined;
  return {
    issuer,
    async start(redirectUri) {
      const provider = new Provider(issuer, {
        clients: [{
          client_id: OIDC_CLIENT.id,
          client_secret: OIDC_CLIENT.secret,
          redirect_uris: [redirectUri],
          grant_types: ["authorization_code"],
          response_types: ["code"],
        }],
        pkce: { required: () => true },
        claims: {
          openid: ["sub"],
          email: ["email"],
          profile: ["preferred_username"],
          groups: ["groups"],
        },
        cookies: { keys: ["postern-test-cookie-key"] },
        findAccount: (_ctx: unknown, id: string) => ({
          accountId: id,
          claims: () => ({ sub: id, ...(accounts[id] ?? {}) }),
        }),
      });
      server = http.createServer(provider.callback());
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
      await promise;
    },
    async [Symbol.asyncDispose]() {
      if (!server) return;
      const { promise, resolve } = Promise.withResolvers<void>();
      server.close(() => resolve());
      server.closeAllConnections();
      await promise;
    },
  };
}
