/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * `/web/users` (permission "users"): the user list, invites, password
 * resets (confirmed first), unlocking and removal; each user's own page
 * (./User.tsx) edits their roles and logins.
 *
 * @module
 */

import { useState } from "preact/hooks";
import { request } from "../api.ts";
import { ErrorAlert } from "../components/Alert.tsx";
import { Chips } from "../components/Chips.tsx";
import { ConfirmDialog } from "../components/ConfirmDialog.tsx";
import { CopyValue } from "../components/CopyButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { Field } from "../components/Field.tsx";
import { PageHeader, Section } from "../components/Page.tsx";
import { parseList } from "../format.ts";
import { useAction, useLoad } from "../hooks.ts";
import { useSession } from "../session.tsx";
import type { Items, User } from "../types.ts";
import { Link } from "../router.tsx";
import { StatusBadge, userApiPath, userPagePath } from "./User.tsx";

/** An invite URL as a full link (the server may answer with a path). */
export function absoluteUrl(url: string): string {
  return /^https?:\/\//.test(url) ? url : new URL(url, location.origin).toString();
}

interface InviteLink {
  user: string;
  kind: "signup" | "reset";
  url: string;
}

function InviteResult({ link }: { link: InviteLink }) {
  return (
    <div class="invite-result" role="status">
      <p>
        {link.kind === "reset" ? "Password reset link" : "Invite link"} for{" "}
        <strong>{link.user}</strong>. Send it to them over a trusted channel; it works once and
        expires.
      </p>
      <CopyValue value={absoluteUrl(link.url)} label="invite link" testId="invite-url" />
    </div>
  );
}

function InviteForm({ onInvited }: { onInvited: (link: InviteLink) => void }) {
  const [name, setName] = useState("");
  const [roles, setRoles] = useState("access");
  const [logins, setLogins] = useState("");
  const { busy, error, run } = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const user = name.trim();
      const { invite_url } = await request<{ invite_url: string }>("POST", "/v1/webapi/users", {
        body: { name: user, roles: parseList(roles), logins: parseList(logins) },
      });
      onInvited({ user, kind: "signup", url: invite_url });
      setName("");
      setLogins("");
    });
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-busy={busy}>
      <ErrorAlert message={error} />
      <Field
        id="invite-name"
        name="name"
        label="User name"
        autocapitalize="none"
        spellcheck={false}
        required
        value={name}
        onValue={setName}
      />
      <Field
        id="invite-roles"
        name="roles"
        label="Roles"
        spellcheck={false}
        value={roles}
        onValue={setRoles}
        hint="Comma-separated, e.g. access, auditor, admin."
      />
      <Field
        id="invite-logins"
        name="logins"
        label="Logins"
        spellcheck={false}
        value={logins}
        onValue={setLogins}
        hint="Unix logins this user may use, comma-separated, e.g. ubuntu, deploy."
      />
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>Create invite</button>
      </div>
    </form>
  );
}

/** A destructive action waiting for the admin's confirmation. */
type Pending = { action: "reset" | "remove"; name: string };

function ConfirmAction(
  { pending, busy, onConfirm, onCancel }: {
    pending: Pending;
    busy: boolean;
    onConfirm: () => void;
    onCancel: () => void;
  },
) {
  const { action, name } = pending;
  if (action === "reset") {
    return (
      <ConfirmDialog
        title={`Reset the sign-in of ${name}?`}
        confirmLabel="Reset sign-in"
        busy={busy}
        onConfirm={onConfirm}
        onCancel={onCancel}
      >
        <p>
          <strong>{name}</strong>{" "}
          loses their password and authenticator app at once and is signed out everywhere. You get a
          link to send them; they choose a new password and set up the app again.
        </p>
      </ConfirmDialog>
    );
  }
  return (
    <ConfirmDialog
      title={`Remove user ${name}?`}
      confirmLabel="Remove user"
      busy={busy}
      onConfirm={onConfirm}
      onCancel={onCancel}
    >
      <p>
        <strong>{name}</strong>{" "}
        will no longer be able to sign in and their web sessions end. Recordings and audit events
        stay.
      </p>
    </ConfirmDialog>
  );
}

/** The users page. */
export function UsersPage() {
  const { session } = useSession();
  const users = useLoad(() => request<Items<User>>("GET", "/v1/webapi/users"), []);
  const [link, setLink] = useState<InviteLink | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const { busy, error, run } = useAction();
  const items = (users.data?.items ?? []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const userPath = userApiPath;

  const reset = (name: string) =>
    run(async () => {
      const { invite_url } = await request<{ invite_url: string }>(
        "POST",
        userPath(name, "/reset"),
      );
      setLink({ user: name, kind: "reset", url: invite_url });
      users.reload();
    });
  const remove = (name: string) =>
    run(async () => {
      await request("DELETE", userPath(name));
      if (link?.user === name) setLink(null);
      users.reload();
    });
  const unlock = (name: string) =>
    run(async () => {
      await request("POST", userPath(name, "/unlock"));
      users.reload();
    });
  const confirm = async ({ action, name }: Pending) => {
    await (action === "reset" ? reset(name) : remove(name));
    setPending(null);
  };

  return (
    <>
      <PageHeader title="Users" description="Invite people, reset their sign-in, remove them." />
      <Section id="invite" title="Invite a user">
        <InviteForm
          onInvited={(l) => {
            setLink(l);
            users.reload();
          }}
        />
      </Section>
      {link && <InviteResult link={link} />}
      <DataTable
        testId="users-table"
        load={users}
        error={error}
        columns={["Name", "Roles", "Logins", "Status"]}
        actions="Actions"
        rows={items}
        row={(user) => (
          <tr key={user.name} data-user={user.name}>
            <td data-label="Name" class="strong">
              <Link href={userPagePath(user.name)}>{user.name}</Link>
            </td>
            <td data-label="Roles">
              <Chips items={user.roles} />
            </td>
            <td data-label="Logins">
              <Chips items={user.logins} />
            </td>
            <td data-label="Status">
              <StatusBadge user={user} />
            </td>
            <td class="cell-actions">
              <div class="button-row">
                {user.status === "locked" && (
                  <button
                    type="button"
                    class="btn btn-small"
                    disabled={busy}
                    title={`Let ${user.name} sign in again`}
                    onClick={() => unlock(user.name)}
                  >
                    Unlock
                  </button>
                )}
                <Link
                  href={userPagePath(user.name)}
                  class="btn btn-small"
                  title={`Roles, logins, sign-in and web sessions of ${user.name}`}
                >
                  Edit
                </Link>
                <button
                  type="button"
                  class="btn btn-small"
                  title={`New sign-up link for ${user.name} (password and authenticator)`}
                  onClick={() => setPending({ action: "reset", name: user.name })}
                >
                  Reset
                </button>
                <button
                  type="button"
                  class="btn btn-small btn-danger-outline"
                  disabled={user.name === session.user}
                  title={user.name === session.user
                    ? "You cannot remove yourself"
                    : `Remove ${user.name}`}
                  onClick={() => setPending({ action: "remove", name: user.name })}
                >
                  Remove
                </button>
              </div>
            </td>
          </tr>
        )}
        empty="No users yet."
        loading="Loading users…"
      />
      {pending && (
        <ConfirmAction
          pending={pending}
          busy={busy}
          onConfirm={() => confirm(pending)}
          onCancel={() => setPending(null)}
        />
      )}
    </>
  );
}
