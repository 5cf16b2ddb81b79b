/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/users/:name` (permission "users"): one user's roles and logins to
 * edit, their last sign-in, and their web sessions with an End action.
 *
 * @module
 */

import { useEffect, useState } from "preact/hooks";
import { request } from "../api.ts";
import { ErrorAlert, Notice } from "../components/Alert.tsx";
import { DataTable, RefreshButton } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { RelativeTime } from "../components/Time.tsx";
import { formatTime, parseList } from "../format.ts";
import { type Loaded, useAction, useLoad } from "../hooks.ts";
import { Link } from "../router.tsx";
import type { User, UserDetails } from "../types.ts";

/** The API path of a user, with `rest` after it. */
export function userApiPath(name: string, rest = ""): string {
  return `/v1/webapi/users/${encodeURIComponent(name)}${rest}`;
}

/** The page of a user. */
export function userPagePath(name: string): string {
  return `/web/users/${encodeURIComponent(name)}`;
}

/** A user's status: active, invited, or locked (until when). */
export function StatusBadge({ user }: { user: User }) {
  if (user.status === "locked") {
    // A lock without an end is stored as the last representable time.
    const ends = user.locked_until && new Date(user.locked_until).getFullYear() < 9999;
    return (
      <span class="badge badge-fail">
        locked{ends ? ` until ${formatTime(user.locked_until!)}` : " until unlocked"}
      </span>
    );
  }
  return <span class={`badge badge-${user.status}`}>{user.status}</span>;
}

function AccessForm({ user, onSaved }: { user: UserDetails; onSaved: () => void }) {
  const [roles, setRoles] = useState(user.roles.join(", "));
  const [logins, setLogins] = useState(user.logins.join(", "));
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useAction();
  useEffect(() => {
    setRoles(user.roles.join(", "));
    setLogins(user.logins.join(", "));
  }, [user.name]);
  const submit = (event: Event) => {
    event.preventDefault();
    setSaved(false);
    void run(async () => {
      await request("PUT", userApiPath(user.name), {
        body: { roles: parseList(roles), logins: parseList(logins) },
      });
      setSaved(true);
      onSaved();
    });
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-busy={busy}>
      <ErrorAlert message={error} />
      <Field
        id="user-roles"
        name="roles"
        label="Roles"
        spellcheck={false}
        value={roles}
        onValue={(value) => {
          setRoles(value);
          setSaved(false);
        }}
        hint="Comma-separated, e.g. access, auditor, admin."
      />
      <Field
        id="user-logins"
        name="logins"
        label="Logins"
        spellcheck={false}
        value={logins}
        onValue={(value) => {
          setLogins(value);
          setSaved(false);
        }}
        hint="Unix logins this user may use, comma-separated."
      />
      <p class="hint form-actions">
        Removing a role or a login ends the terminals and SSH connections they have open now.
      </p>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>Save changes</button>
      </div>
      {saved && <Notice>Saved the roles and logins of {user.name}.</Notice>}
    </form>
  );
}

function SignIn({ user }: { user: UserDetails }) {
  return (
    <dl class="details" data-testid="user-sign-in">
      <div>
        <dt>Status</dt>
        <dd>
          <StatusBadge user={user} />
        </dd>
      </div>
      <div>
        <dt>Last sign-in</dt>
        <dd data-testid="last-login">
          {user.last_login
            ? (
              <>
                <RelativeTime iso={user.last_login.time} />{" "}
                {user.last_login.remote_addr && (
                  <span class="muted">from {user.last_login.remote_addr}</span>
                )}
              </>
            )
            : <span class="muted">Never signed in</span>}
        </dd>
      </div>
      <div>
        <dt>Added</dt>
        <dd>{formatTime(user.created)}</dd>
      </div>
    </dl>
  );
}

function WebSessions({ user, load }: { user: UserDetails; load: Loaded<UserDetails> }) {
  const { busy, error, run } = useAction();
  const end = (id: string) =>
    run(async () => {
      await request("DELETE", userApiPath(user.name, `/web-sessions/${encodeURIComponent(id)}`));
      load.reload();
    });
  return (
    <DataTable
      testId="user-web-sessions-table"
      load={load}
      error={error}
      columns={["Signed in", "Last active", "Expires"]}
      actions="Actions"
      rows={user.web_sessions}
      row={(s) => (
        <tr key={s.id} data-web-session={s.id}>
          <td data-label="Signed in">
            <time dateTime={s.created}>{formatTime(s.created)}</time>
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
              disabled={busy}
              title={`Sign ${user.name} out of this browser and end its terminals`}
              onClick={() => end(s.id)}
            >
              End
            </button>
          </td>
        </tr>
      )}
      empty={`${user.name} is not signed in to the web UI anywhere.`}
      loading="Loading sessions…"
    />
  );
}

/** The page of one user. */
export function UserPage({ name }: { name: string }) {
  const user = useLoad(() => request<UserDetails>("GET", userApiPath(name)), [name]);
  return (
    <>
      <PageHeader title={`User ${name}`} description="Roles, logins, sign-in and web sessions.">
        <Link href="/web/users" class="btn">All users</Link>
        <RefreshButton load={user} />
      </PageHeader>
      {!user.data && <ErrorAlert message={user.error} />}
      {!user.data && !user.error && <p class="muted" aria-busy="true">Loading…</p>}
      {user.data && (
        <>
          <Section id="access" title="Roles and logins">
            <AccessForm user={user.data} onSaved={user.reload} />
          </Section>
          <Section id="sign-in" title="Sign-in">
            <SignIn user={user.data} />
          </Section>
          <Section
            id="web-sessions"
            title="Web sessions"
            description="Browsers signed in as this user. Ending one signs that browser out."
          >
            <WebSessions user={user.data} load={user} />
          </Section>
        </>
      )}
    </>
  );
}
