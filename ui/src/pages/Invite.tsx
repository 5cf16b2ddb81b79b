/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/invite/:token`: sign up (or reset a password) from an invite link:
 * choose a password, enrol an authenticator app, confirm with a code.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { messageOf, request, setCsrfToken } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { CodeField } from "../components/Field.tsx";
import { AuthScreen } from "../components/Layout.tsx";
import { PasswordFields, passwordProblem } from "../components/PasswordFields.tsx";
import { TotpSetup } from "../components/TotpSetup.tsx";
import { formatTime } from "../format.ts";
import { useAction } from "../hooks.ts";
import type { Invite, TotpEnrolment, WebSession } from "../types.ts";

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
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const { busy, error, setError, run } = useAction();

  const beginTotp = () =>
    run(async () => {
      setEnrolment(await request<TotpEnrolment>("POST", `${base}/totp`, { session: false }));
    });

  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = passwordProblem(password, confirm);
    if (problem) return setError(problem);
    if (!enrolment) return setError("Set up your authenticator app first.");
    const ok = await run(async () => {
      const session = await request<WebSession>("POST", base, {
        body: { password, second_factor_token: code },
        session: false,
      });
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
        {enrolment
          ? (
            <>
              <TotpSetup enrolment={enrolment} />
              <CodeField id="totp" value={code} onValue={setCode} />
            </>
          )
          : (
            <>
              <p class="muted">
                postern asks for a code from an authenticator app each time you sign in.
              </p>
              <button type="button" class="btn" disabled={busy} onClick={beginTotp}>
                Set up authenticator
              </button>
            </>
          )}
      </fieldset>
      {enrolment && (
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {invite.kind === "reset" ? "Reset password" : "Create account"}
        </button>
      )}
    </form>
  );
}
