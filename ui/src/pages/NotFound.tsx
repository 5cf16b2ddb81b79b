/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Pages for unknown paths and for pages the user's roles do not allow.
 *
 * @module
 */

import { PageHeader } from "../components/Page.tsx";
import { Link } from "../router.tsx";

/** Shown for a path the app does not know. */
export function NotFoundPage({ path }: { path: string }) {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>
        There is no page at <code>{path}</code>. <Link href="/web/nodes">Go to your nodes</Link>.
      </p>
    </>
  );
}

/** Shown when the user lacks the permission a page needs. */
export function ForbiddenPage({ permission }: { permission: string }) {
  return (
    <>
      <PageHeader title="Not allowed" />
      <p role="alert">
        Your roles do not grant the <code>{permission}</code>{" "}
        permission this page needs. Ask an administrator if you should have it.
      </p>
    </>
  );
}
