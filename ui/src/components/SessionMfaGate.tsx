/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Before a web terminal opens: when the user's roles ask for a second factor
 * per session (`require_session_mfa`) and none was given lately, asks for
 * the security key or an authenticator code first.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { request } from "../api.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import type { SecondFactors } from "../types.ts";
import { loginChallenge, signWithKey } from "../webauthn.ts";
import { ErrorAlert } from "./Alert.tsx";
import { CodeField } from "./Field.tsx";

/** Shows `children` once no per-session second factor is owed. */
export function SessionMfaGate({ children }: { children: ComponentChildren }) {
  const { session } = useSession();
  const needed = useLoad(
    () => request<{ required: boolean }>("GET", "/v1/webapi/mfa/session"),
    [],
  );
  const factors = useLoad(
    () => request<SecondFactors>("GET", "/v1/webapi/mfa/devices"),
    [],
  );
  const [code, setCode] = useState("");
  const [given, setGiven] = useState(false);
  const { busy, error, run } = useAction();
  if (given || needed.data?.required === false) return <>{children}</>;
  if (!needed.data && !needed.error) return null; // a moment, before the terminal or the question
  const hasKeys = (factors.data?.keys.length ?? 0) > 0;
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body = code
        ? { second_factor_token: code }
        : { webauthn_response: await signWithKey(await loginChallenge(session.user)) };
      await request("POST", "/v1/webapi/mfa/session", { body });
      setGiven(true);
    });
  };
  return (
    <div class="auth-screen">
      <main class="auth-card" id="main">
        <h1>Confirm it is you</h1>
        <ErrorAlert message={needed.error ?? error} />
        {needed.data?.required && factors.data && (
          <form onSubmit={submit} aria-busy={busy}>
            <p>Your roles ask for a second factor before each session.</p>
            {factors.data.totp && (
              <CodeField id="session-totp" value={code} onValue={setCode} required={!hasKeys} />
            )}
            <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
              {hasKeys && !code ? "Use security key" : "Continue"}
            </button>
          </form>
        )}
      </main>
    </div>
  );
}
