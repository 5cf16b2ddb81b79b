/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/invite/:token`: sign up (or reset a password) from an invite link:
 * choose a password, then set up the second factor the proxy asks for: an
 * authenticator app confirmed with a code, or a security key or passkey.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { ApiError, messageOf, request, setCsrfToken } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { CodeField, Field } from "../components/Field.tsx";
import { AuthScreen } from "../components/Layout.tsx";
import { PasswordFields, passwordProblem } from "../components/PasswordFields.tsx";
import { TotpSetup } from "../components/TotpSetup.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import type { Invite, TotpEnrolment, WebSession } from "../types.ts";
import { authSettings, codesAllowed, createKey, keysAllowed } from "../webauthn.ts";

/** The second factor being set up. */
type Factor =
  | { kind: "totp"; enrolment: TotpEnrolment }
  | { kind: "key"; name: string; answer: unknown }
  | null;

type InviteState =
  | { status: "loading" }
  | { status: "invalid"; message: string }
  | { status: "ready"; invite: Invite };

/** Props for {@link InvitePage}. */
export interface InvitePageProps {
  token: string;
  onLogin: (session: WebSession) => void;
}

/** The invite form. */
export function InvitePage({ token, onLogin }: InvitePageProps) {
  const [state, setState] = useState<InviteState>({ status: "loading" });
  const base = `/v1/webapi/invites/${encodeURIComponent(token)}`;
  useEffect(() => {
    request<Invite>("GET", base, { session: false })
      .then((invite) => setState({ status: "ready", invite }))
      .catch((err) => setState({ status: "invalid", message: messageOf(err) }));
  }, [base]);
  const title = state.status === "ready" && state.invite.kind === "reset"
    ? "Reset your password"
    : "Create your account";

  return (
    <AuthScreen title={title} wide>
      {state.status === "loading" && <p class="muted" aria-busy="true">Checking the invite…</p>}
      {state.status === "invalid" && (
        <>
          <ErrorAlert message={state.message} />
          <p>
            Each link works once and expires. If you have already set up your account with it,{" "}
            <a href="/web/login">sign in</a>. If not, ask whoever sent you the link for a new one.
          </p>
        </>
      )}
      {state.status === "ready" && (
        <InviteForm base={base} invite={state.invite} onLogin={onLogin} />
      )}
    </AuthScreen>
  );
}

function InviteForm(
  { base, invite, onLogin }: {
    base: string;
    invite: Invite;
    onLogin: (session: WebSession) => void;
  },
) {
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [code, setCode] = useState("");
  const [keyName, setKeyName] = useState("Security key");
  const [factor, setFactor] = useState<Factor>(null);
  const { busy, error, setError, run } = useAction();
  const settings = useLoad(authSettings, []);
  const policy = settings.data?.second_factor ?? "otp";
  // Where the policy needs no second factor, the app is still offered.
  const offersCodes = codesAllowed(policy) || policy === "off";

  const beginTotp = () =>
    run(async () => {
      const enrolment = await request<TotpEnrolment>("POST", `${base}/totp`, { session: false });
      setFactor({ kind: "totp", enrolment });
    });

  const registerKey = () =>
    run(async () => {
      if (!keyName.trim()) throw new ApiError(0, "webauthn", "Name the security key first.");
      const options = await request("POST", `${base}/webauthn`, { session: false });
      setFactor({ kind: "key", name: keyName.trim(), answer: await createKey(options) });
    });

  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = passwordProblem(password, confirm);
    if (problem) return setError(problem);
    if (!factor && policy !== "optional") {
      return setError(
        keysAllowed(policy) && !offersCodes
          ? "Register your security key first."
          : "Set up your second factor first.",
      );
    }
    const body = factor?.kind === "key"
      ? { password, key_name: factor.name, webauthn_response: factor.answer }
      : { password, second_factor_token: code };
    const ok = await run(async () => {
      const session = await request<WebSession>("POST", base, { body, session: false });
      setCsrfToken(session.csrf_token);
      onLogin(session);
    });
    if (!ok) setCode("");
  };

  return (
    <form onSubmit={submit} aria-busy={busy}>
      <p>
        {invite.kind === "reset" ? "Resetting the password of " : "Signing up as "}
        <strong data-testid="invite-user">{invite.user}</strong>. This link expires{" "}
        <time dateTime={invite.expires}>{formatTime(invite.expires)}</time>.
      </p>
      <input
        type="text"
        name="username"
        autocomplete="username"
        value={invite.user}
        readOnly
        hidden
      />
      <ErrorAlert message={error} />
      <fieldset>
        <legend>1. Choose a password</legend>
        <PasswordFields
          label="Password"
          password={password}
          confirm={confirm}
          onPassword={setPassword}
          onConfirm={setConfirm}
        />
      </fieldset>
      <fieldset>
        <legend>2. Set up two-factor authentication</legend>
        {factor?.kind === "totp" && (
          <>
            <TotpSetup enrolment={factor.enrolment} />
            <CodeField id="totp" value={code} onValue={setCode} />
          </>
        )}
        {factor?.kind === "key" && (
          <p data-testid="key-registered">
            Security key <strong>{factor.name}</strong> is ready; it is saved when you finish.
          </p>
        )}
        {factor === null && settings.data && (
          <>
            <p class="muted">
              {policy === "optional"
                ? "Optional: postern can ask for a second factor each time you sign in."
                : "postern asks for a second factor each time you sign in."}
            </p>
            {keysAllowed(policy) && (
              <div class="form-narrow">
                <Field
                  id="key-name"
                  label="Security key name"
                  value={keyName}
                  onValue={setKeyName}
                  maxLength={64}
                  hint="A name to tell your keys apart, e.g. YubiKey or laptop."
                />
              </div>
            )}
            <div class="button-row">
              {keysAllowed(policy) && (
                <button type="button" class="btn" disabled={busy} onClick={registerKey}>
                  Register security key or passkey
                </button>
              )}
              {offersCodes && (
                <button type="button" class="btn" disabled={busy} onClick={beginTotp}>
                  Set up authenticator app
                </button>
              )}
            </div>
          </>
        )}
      </fieldset>
      {(factor || policy === "optional") && (
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {invite.kind === "reset" ? "Reset password" : "Create account"}
        </button>
      )}
    </form>
  );
}
