/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/account`: change password, re-enrol the authenticator app, see and
 * end the user's own web sessions.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { request } from "../api.ts";
import { ErrorAlert, Notice } from "../components/Alert.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { CodeField, Field } from "../components/Field.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { PasswordFields, passwordProblem } from "../components/PasswordFields.tsx";
import { RelativeTime } from "../components/Time.tsx";
import { TotpSetup } from "../components/TotpSetup.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import type { Items, TotpEnrolment, WebSessionInfo } from "../types.ts";

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [code, setCode] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, setError, run } = useAction();
  const submit = async (event: Event) => {
    event.preventDefault();
    const problem = passwordProblem(password, confirm);
    if (problem) return setError(problem);
    setDone(false);
    await run(async () => {
      await request("PUT", "/v1/webapi/users/password", {
        body: { old_password: current, new_password: password, second_factor_token: code },
      });
      setCurrent("");
      setPassword("");
      setConfirm("");
      setDone(true);
    });
    setCode("");
  };
  return (
    <form class="form-narrow" onSubmit={submit} aria-busy={busy}>
      <ErrorAlert message={error} />
      {done && <Notice>Your password was changed.</Notice>}
      <Field
        id="current-password"
        name="old_password"
        label="Current password"
        type="password"
        autocomplete="current-password"
        required
        value={current}
        onValue={setCurrent}
      />
      <PasswordFields
        idPrefix="new-"
        label="New password"
        password={password}
        confirm={confirm}
        onPassword={setPassword}
        onConfirm={setConfirm}
      />
      <CodeField id="password-totp" value={code} onValue={setCode} />
      <button type="submit" class="btn btn-primary" disabled={busy}>Change password</button>
    </form>
  );
}

type Enrol =
  | { step: "password" }
  | { step: "confirm"; enrolment: TotpEnrolment }
  | { step: "done" };

function ReenrolTotp() {
  const [state, setState] = useState<Enrol>({ step: "password" });
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const { busy, error, setError, run } = useAction();
  const begin = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const enrolment = await request<TotpEnrolment>("POST", "/v1/webapi/mfa/totp/begin", {
        body: { password },
      });
      setPassword("");
      setState({ step: "confirm", enrolment });
    });
  };
  const confirm = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await request("POST", "/v1/webapi/mfa/totp/confirm", {
        body: { second_factor_token: code },
      });
      setCode("");
      setState({ step: "done" });
    });
  };

  if (state.step === "confirm") {
    return (
      <form onSubmit={confirm} aria-busy={busy}>
        <ErrorAlert message={error} />
        <TotpSetup enrolment={state.enrolment} />
        <div class="form-narrow">
          <CodeField id="enrol-totp" value={code} onValue={setCode} label="Code from the new app" />
          <div class="button-row">
            <button type="submit" class="btn btn-primary" disabled={busy}>
              Confirm authenticator
            </button>
            <button
              type="button"
              class="btn"
              onClick={() => {
                setError(null);
                setState({ step: "password" });
              }}
            >
              Cancel
            </button>
          </div>
        </div>
      </form>
    );
  }
  return (
    <form class="form-narrow" onSubmit={begin} aria-busy={busy}>
      <ErrorAlert message={error} />
      {state.step === "done" && (
        <Notice>Your new authenticator app is set up; the old one no longer works.</Notice>
      )}
      <Field
        id="enrol-password"
        name="password"
        label="Password"
        type="password"
        autocomplete="current-password"
        required
        value={password}
        onValue={setPassword}
        hint="Confirm it is you before replacing your authenticator."
      />
      <button type="submit" class="btn" disabled={busy}>Set up new authenticator</button>
    </form>
  );
}

function WebSessions() {
  const { logout } = useSession();
  const sessions = useLoad(
    () => request<Items<WebSessionInfo>>("GET", "/v1/webapi/sessions/web"),
    [],
  );
  const { error, run } = useAction();
  const end = (s: WebSessionInfo) => {
    if (s.current) return void logout();
    void run(async () => {
      await request("DELETE", `/v1/webapi/sessions/web/${encodeURIComponent(s.id)}`);
      sessions.reload();
    });
  };
  const items = (sessions.data?.items ?? []).slice().sort((a, b) =>
    b.last_seen.localeCompare(a.last_seen)
  );
  return (
    <>
      <DataTable
        testId="web-sessions-table"
        load={sessions}
        error={error}
        columns={["Signed in", "Last active", "Expires"]}
        actions="Actions"
        rows={items}
        row={(s) => (
          <tr key={s.id} data-current={s.current ? "true" : undefined}>
            <td data-label="Signed in">
              <time dateTime={s.created}>{formatTime(s.created)}</time>
              {s.current && <span class="badge badge-active">this browser</span>}
            </td>
            <td data-label="Last active">
              <RelativeTime iso={s.last_seen} />
            </td>
            <td data-label="Expires">
              <time dateTime={s.expires}>{formatTime(s.expires)}</time>
            </td>
            <td class="cell-actions">
              <button
                type="button"
                class="btn btn-small btn-danger-outline"
                title={s.current ? "End this session (log out)" : "End this session"}
                onClick={() => end(s)}
              >
                End
              </button>
            </td>
          </tr>
        )}
        empty="No sessions."
        loading="Loading sessions…"
      />
    </>
  );
}

/** The account page. */
export function AccountPage() {
  const { session } = useSession();
  return (
    <>
      <PageHeader title="Account" description={`Signed in as ${session.user}.`} />
      <Section id="profile" title="Profile">
        <dl class="details">
          <div>
            <dt>User</dt>
            <dd data-testid="account-user">{session.user}</dd>
          </div>
          <div>
            <dt>Roles</dt>
            <dd>{session.roles.join(", ") || "—"}</dd>
          </div>
          <div>
            <dt>Logins</dt>
            <dd class="mono">{session.logins.join(", ") || "—"}</dd>
          </div>
          <div>
            <dt>Session expires</dt>
            <dd>{formatTime(session.expires)}</dd>
          </div>
        </dl>
      </Section>
      <Section id="change-password" title="Change password">
        <ChangePassword />
      </Section>
      <Section
        id="authenticator"
        title="Authenticator app"
        description="Move two-factor sign-in to a new phone or app."
      >
        <ReenrolTotp />
      </Section>
      <Section
        id="web-sessions"
        title="Web sessions"
        description="Browsers signed in to your account. End any you do not recognise."
      >
        <WebSessions />
      </Section>
    </>
  );
}
