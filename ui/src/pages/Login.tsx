/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/login`: user name, password and authenticator code.
 *
 * @module
 */

import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf, request, setCsrfToken } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { CodeField, Field } from "../components/Field.tsx";
import { AuthScreen } from "../components/Layout.tsx";
import { useAction } from "../hooks.ts";
import type { WebSession } from "../types.ts";

/** Props for {@link LoginPage}. */
export interface LoginPageProps {
  /** Called with the new session after a successful sign-in. */
  onLogin: (session: WebSession) => void;
  /** Why the user is here (e.g. their session expired). */
  reason?: string | null;
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

  const submit = async (event: Event) => {
    event.preventDefault();
    const ok = await run(async () => {
      const session = await request<WebSession>("POST", "/v1/webapi/sessions", {
        body: { user: user.trim(), password, second_factor_token: code },
        session: false,
      });
      setCsrfToken(session.csrf_token);
      onLogin(session);
    });
    if (ok) return;
    setPassword("");
    setCode("");
    passwordRef.current?.focus();
  };

  return (
    <AuthScreen title="Sign in">
      {reason && <p class="muted">{reason}</p>}
      <ErrorAlert message={error} />
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
        <CodeField id="totp" value={code} onValue={setCode} required={false} />
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="hint">
        No account yet? Accounts are by invitation: ask whoever gave you this address to send you an
        invite link. Forgot your password or lost your authenticator app? Ask them to reset your
        sign-in; you will get a new link.
      </p>
    </AuthScreen>
  );
}
