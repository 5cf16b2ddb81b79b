/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/account`: change password, register and remove security keys and
 * passkeys, re-enrol the authenticator app, see and end the user's own web
 * sessions.
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
import type { Items, SecondFactors, SecurityKey, TotpEnrolment, WebSessionInfo } from "../types.ts";
import {
  authSettings,
  codesAllowed,
  createKey,
  keysAllowed,
  loginChallenge,
  type SecondFactorPolicy,
  signWithKey,
} from "../webauthn.ts";

function ChangePassword({ policy }: { policy: SecondFactorPolicy }) {
  const { session } = useSession();
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
      const body: Record<string, unknown> = { old_password: current, new_password: password };
      // No code typed: the security key confirms it is you (where keys are used).
      if (!code && keysAllowed(policy)) {
        body.webauthn_response = await signWithKey(await loginChallenge(session.user));
      } else body.second_factor_token = code;
      await request("PUT", "/v1/webapi/users/password", { body });
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
      {codesAllowed(policy) && (
        <CodeField
          id="password-totp"
          value={code}
          onValue={setCode}
          required={!keysAllowed(policy)}
        />
      )}
      {keysAllowed(policy) && (
        <p class="hint">
          {codesAllowed(policy) ? "Or leave the code empty: your" : "Your"}{" "}
          browser asks for your security key.
        </p>
      )}
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

function SecurityKeys({ policy }: { policy: SecondFactorPolicy }) {
  const factors = useLoad(() => request<SecondFactors>("GET", "/v1/webapi/mfa/devices"), []);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [added, setAdded] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const add = (event: Event) => {
    event.preventDefault();
    setAdded(null);
    void run(async () => {
      const options = await request("POST", "/v1/webapi/mfa/webauthn/begin", {
        body: { password },
      });
      setPassword("");
      const answer = await createKey(options);
      const key = await request<SecurityKey>("POST", "/v1/webapi/mfa/webauthn/finish", {
        body: { name: name.trim(), webauthn_response: answer },
      });
      setName("");
      setAdded(key.name);
      factors.reload();
    });
  };
  const remove = (key: SecurityKey) =>
    void run(async () => {
      setAdded(null);
      await request("DELETE", `/v1/webapi/mfa/webauthn/${encodeURIComponent(key.id)}`);
      factors.reload();
    });
  const keys = factors.data?.keys ?? [];
  return (
    <>
      {added && <Notice>Security key "{added}" is registered.</Notice>}
      <DataTable
        testId="security-keys-table"
        load={factors}
        error={error}
        columns={["Name", "Added", "Last used"]}
        actions="Actions"
        rows={keys}
        row={(key) => (
          <tr key={key.id}>
            <td data-label="Name">
              {key.name}
              {key.passkey && <span class="badge">passkey</span>}
            </td>
            <td data-label="Added">
              <time dateTime={key.created}>{formatTime(key.created)}</time>
            </td>
            <td data-label="Last used">
              {key.last_used ? <RelativeTime iso={key.last_used} /> : "never"}
            </td>
            <td class="cell-actions">
              <button
                type="button"
                class="btn btn-small btn-danger-outline"
                aria-label={`Remove ${key.name}`}
                disabled={busy}
                onClick={() => remove(key)}
              >
                Remove
              </button>
            </td>
          </tr>
        )}
        empty={policy === "webauthn"
          ? "No security keys."
          : "No security keys. Add one to sign in by touching it instead of typing a code."}
        loading="Loading security keys…"
      />
      <form class="form-narrow" onSubmit={add} aria-busy={busy}>
        <Field
          id="new-key-name"
          name="key_name"
          label="New key name"
          required
          maxLength={64}
          value={name}
          onValue={setName}
          hint="A name to tell your keys apart, e.g. YubiKey or laptop."
        />
        <Field
          id="new-key-password"
          name="password"
          label="Password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onValue={setPassword}
          hint="Confirm it is you before adding a key."
        />
        <button type="submit" class="btn" disabled={busy}>Add security key</button>
      </form>
    </>
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
  const settings = useLoad(authSettings, []);
  const policy = settings.data?.second_factor ?? "otp";
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
        <ChangePassword policy={policy} />
      </Section>
      {keysAllowed(policy) && (
        <Section
          id="security-keys"
          title="Security keys and passkeys"
          description="Sign in by touching a security key, or with a passkey on this device."
        >
          <SecurityKeys policy={policy} />
        </Section>
      )}
      {(codesAllowed(policy) || policy === "off") && (
        <Section
          id="authenticator"
          title="Authenticator app"
          description="Move two-factor sign-in to a new phone or app."
        >
          <ReenrolTotp />
        </Section>
      )}
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
