/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/cli-login/:code`: approve a command-line login (`postern login
 * --browser` or `--auth`). The user compares the code with the one their
 * terminal shows, then approves with their security key (or authenticator
 * code); the CLI then receives its certificate.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { request } from "../api.ts";
import { ErrorAlert, Notice } from "../components/Alert.tsx";
import { CodeField } from "../components/Field.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { formatTime } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import { loginChallenge, signWithKey } from "../webauthn.ts";

interface CliLogin {
  code: string;
  remote_addr: string;
  created: string;
  expires: string;
  second_factor: "webauthn" | "otp" | "none";
}

/** The approval page of one command-line login. */
export function CliLoginPage({ code }: { code: string }) {
  const { session } = useSession();
  const path = `/v1/webapi/cli-logins/code/${encodeURIComponent(code)}`;
  const login = useLoad(() => request<CliLogin>("GET", path), [path]);
  const [otp, setOtp] = useState("");
  const [approved, setApproved] = useState(false);
  const { busy, error, run } = useAction();
  const approve = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const body: Record<string, unknown> = {};
      if (login.data?.second_factor === "webauthn") {
        body.webauthn_response = await signWithKey(await loginChallenge(session.user));
      } else if (login.data?.second_factor === "otp") body.second_factor_token = otp;
      await request("POST", `${path}/approve`, { body });
      setApproved(true);
    });
  };
  return (
    <>
      <PageHeader
        title="Approve a command-line login"
        description="A terminal asked to log in to postern as you."
      />
      <Section id="cli-login" title={`Code ${code}`}>
        <ErrorAlert message={login.error ?? error} />
        {approved && (
          <Notice>
            Approved: your terminal receives its certificate now. You can close this page.
          </Notice>
        )}
        {login.data && !approved && (
          <form class="form-narrow" onSubmit={approve} aria-busy={busy}>
            <p>
              Approve only if your terminal shows the code{" "}
              <strong data-testid="cli-login-code">{login.data.code}</strong> and you ran{" "}
              <code>postern login</code> just now. It asked from{" "}
              <span class="mono">{login.data.remote_addr}</span> at{" "}
              <time dateTime={login.data.created}>{formatTime(login.data.created)}</time>.
            </p>
            {login.data.second_factor === "otp" && (
              <CodeField id="cli-login-totp" value={otp} onValue={setOtp} />
            )}
            <button type="submit" class="btn btn-primary" disabled={busy}>
              {login.data.second_factor === "webauthn"
                ? "Approve with security key"
                : "Approve login"}
            </button>
          </form>
        )}
      </Section>
    </>
  );
}
