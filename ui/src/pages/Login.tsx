/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/login`: user name, password and the second factor the proxy asks
 * for (an authenticator code, or the security key the browser asks to
 * touch); or a passkey alone where passwordless sign-in is on; or single
 * sign-on through a configured identity provider.
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, messageOf, request, setCsrfToken } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { CodeField, Field } from "../components/Field.tsx";
import { AuthScreen } from "../components/Layout.tsx";
import { useAction, useLoad } from "../hooks.ts";
import type { WebSession } from "../types.ts";
import {
  authSettings,
  codesAllowed,
  keysAllowed,
  loginChallenge,
  type SecondFactorPolicy,
  signWithKey,
} from "../webauthn.ts";

/**
 * Signs in with user name, password and the second factor: the code when
 * one was typed, else the security key when the policy allows keys and the
 * user has some (under `optional`, a user with none signs in without).
 */
async function passwordSignIn(
  policy: SecondFactorPolicy,
  user: string,
  password: string,
  code: string,
): Promise<WebSession> {
  const body: Record<string, unknown> = { user, password };
  if (code || !keysAllowed(policy)) {
    body.second_factor_token = code;
  } else {
    const options = await loginChallenge(user);
    const hasKeys = (options.allowCredentials?.length ?? 0) > 0;
    if (hasKeys) body.webauthn_response = await signWithKey(options);
    else if (policy === "on") {
      throw new ApiError(0, "webauthn", "Enter the code from your authenticator app.");
    }
  }
  return await request<WebSession>("POST", "/v1/webapi/sessions", { body, session: false });
}

/** Props for {@link LoginPage}. */
export interface LoginPageProps {
  /** Called with the new session after a successful sign-in. */
  onLogin: (session: WebSession) => void;
  /** Why the user is here (e.g. their session expired). */
  reason?: string | null;
}

/** Where "Sign in with <connector>" goes, with the page to return to (`?next=`). */
function ssoHref(connector: string): string {
  const next = new URLSearchParams(location.search).get("next");
  const query = next?.startsWith("/web/") ? `?${new URLSearchParams({ next })}` : "";
  return `/v1/webapi/oidc/login/${encodeURIComponent(connector)}${query}`;
}

/** The sign-in form. */
export function LoginPage({ onLogin, reason }: LoginPageProps) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const { busy, error, run } = useAction(messageOf);
  const userRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  useEffect(() => userRef.current?.focus(), []);
  const settings = useLoad(authSettings, []);
  const policy = settings.data?.second_factor ?? "otp";
  const connectors = settings.data?.connectors ?? [];
  // A single sign-on that failed comes back here with its reason.
  const ssoError = new URLSearchParams(location.search).get("sso_error");

  const signedIn = (session: WebSession) => {
    setCsrfToken(session.csrf_token);
    onLogin(session);
  };

  const passkey = () =>
    run(async () => {
      const answer = await signWithKey(await loginChallenge());
      signedIn(
        await request<WebSession>("POST", "/v1/webapi/sessions/passwordless", {
          body: { webauthn_response: answer },
          session: false,
        }),
      );
    });

  const submit = async (event: Event) => {
    event.preventDefault();
    const ok = await run(async () => {
      signedIn(await passwordSignIn(policy, user.trim(), password, code));
    });
    if (ok) return;
    setPassword("");
    setCode("");
    passwordRef.current?.focus();
  };

  return (
    <AuthScreen title="Sign in">
      {reason && <p class="muted">{reason}</p>}
      <ErrorAlert message={error ?? ssoError} />
      {connectors.length > 0 && (
        <div class="sso-buttons">
          {connectors.map((connector) => (
            <a key={connector.name} class="btn btn-block" href={ssoHref(connector.name)}>
              Sign in with {connector.display}
            </a>
          ))}
        </div>
      )}
      <form onSubmit={submit} aria-busy={busy}>
        <Field
          id="user"
          label="User name"
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          required
          value={user}
          onValue={setUser}
          inputRef={userRef}
        />
        <Field
          id="password"
          label="Password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onValue={setPassword}
          inputRef={passwordRef}
        />
        {codesAllowed(policy) && (
          <CodeField id="totp" value={code} onValue={setCode} required={false} />
        )}
        {keysAllowed(policy) && (
          <p class="hint" data-testid="key-hint">
            {codesAllowed(policy)
              ? "Leave the code empty to use your security key or passkey instead."
              : "After your password, your browser asks for your security key or passkey."}
          </p>
        )}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {settings.data?.passwordless && (
        <button
          type="button"
          class="btn btn-block"
          disabled={busy}
          onClick={() => void passkey()}
        >
          Sign in with a passkey
        </button>
      )}
      <p class="hint">
        No account yet? Accounts are by invitation: ask whoever gave you this address to send you an
        invite link. Forgot your password or lost your authenticator app? Ask them to reset your
        sign-in; you will get a new link.
      </p>
    </AuthScreen>
  );
}
