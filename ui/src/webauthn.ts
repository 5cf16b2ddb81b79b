/// <reference lib="dom" />
/**
 * Security keys and passkeys in the browser: the server's challenge handed
 * to `navigator.credentials` through npm:@simplewebauthn/browser, and the
 * ways it fails turned into messages that say what to do. Also the sign-in
 * settings of the proxy (`GET /v1/webapi/ping`), which decide what the
 * sign-in, invite and account pages offer.
 *
 * @module
 */

import {
  browserSupportsWebAuthn,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  startAuthentication,
  startRegistration,
} from "@simplewebauthn/browser";
import { ApiError, request } from "./api.ts";

/** `auth.second_factor` of the proxy. */
export type SecondFactorPolicy = "otp" | "webauthn" | "on" | "optional" | "off";

/** What sign-in asks for. */
export interface AuthSettings {
  second_factor: SecondFactorPolicy;
  passwordless: boolean;
  /** Single sign-on connectors, each a "Sign in with <display>" link. */
  connectors: { name: string; display: string }[];
}

let settings: Promise<AuthSettings> | undefined;

const DEFAULT_SETTINGS: AuthSettings = {
  second_factor: "otp",
  passwordless: false,
  connectors: [],
};

/** The proxy's sign-in settings, fetched once (again after a failure). */
export function authSettings(): Promise<AuthSettings> {
  const fetched = settings ??
    request<{ auth?: AuthSettings }>("GET", "/v1/webapi/ping", { session: false })
      .then((ping): AuthSettings => ping.auth ?? DEFAULT_SETTINGS)
      .catch((error) => {
        settings = undefined;
        throw error;
      });
  settings = fetched;
  return fetched;
}

/** Whether users may sign in with a security key under `policy`. */
export function keysAllowed(policy: SecondFactorPolicy): boolean {
  return policy === "webauthn" || policy === "on" || policy === "optional";
}

/** Whether users may sign in with an authenticator code under `policy`. */
export function codesAllowed(policy: SecondFactorPolicy): boolean {
  return policy === "otp" || policy === "on" || policy === "optional";
}

/** A failure of the browser's side of a ceremony, as an ApiError the pages show. */
function browserFailure(error: unknown): ApiError {
  const name = (error as { name?: string })?.name;
  const message = name === "NotAllowedError" || name === "AbortError"
    ? "The security key did not answer (cancelled or timed out). Try again, and touch the key when it blinks."
    : name === "InvalidStateError"
    ? "This security key is registered already."
    : name === "SecurityError"
    ? "This browser refuses security keys on this address; open postern at its public address (a host name, over HTTPS)."
    : "The browser could not use the security key. Try again, or use another key.";
  return new ApiError(0, "webauthn", message);
}

function requireSupport(): void {
  if (!browserSupportsWebAuthn()) {
    throw new ApiError(
      0,
      "webauthn",
      "This browser cannot use security keys or passkeys; use another browser.",
    );
  }
}

/**
 * Asks the security key (or passkey) to sign the server's challenge.
 *
 * @param options the server's `navigator.credentials.get()` options as JSON
 * @returns the answer to send back as `webauthn_response`
 * @throws ApiError with a message for the user
 */
export async function signWithKey(options: unknown): Promise<unknown> {
  requireSupport();
  try {
    return await startAuthentication({
      optionsJSON: options as PublicKeyCredentialRequestOptionsJSON,
    });
  } catch (error) {
    throw browserFailure(error);
  }
}

/**
 * Asks the browser to create a credential on a security key (or a passkey).
 *
 * @param options the server's `navigator.credentials.create()` options as JSON
 * @returns the answer to send back as `webauthn_response`
 * @throws ApiError with a message for the user
 */
export async function createKey(options: unknown): Promise<unknown> {
  requireSupport();
  try {
    return await startRegistration({
      optionsJSON: options as PublicKeyCredentialCreationOptionsJSON,
    });
  } catch (error) {
    throw browserFailure(error);
  }
}

/** The server's challenge for `user`'s keys (or, with no user, for any passkey). */
export function loginChallenge(user?: string): Promise<{ allowCredentials?: unknown[] }> {
  return request("POST", "/v1/webapi/mfa/login/begin", {
    body: user === undefined ? {} : { user },
    session: false,
  });
}
