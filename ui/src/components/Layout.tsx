/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * The application shell: top bar, left navigation and the main area; and the
 * plainer screen around the sign-in and invite forms.
 *
 * @module
 */

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Link } from "../router.tsx";
import { can, useSession } from "../session.tsx";
import { useTitle } from "./Page.tsx";
import type { Permission } from "../types.ts";

interface NavItem {
  href: string;
  label: string;
  permission?: Permission;
}

const MAIN_NAV: NavItem[] = [
  { href: "/web/nodes", label: "Nodes" },
  { href: "/web/sessions", label: "Active sessions" },
  { href: "/web/recordings", label: "Recordings" },
  { href: "/web/audit", label: "Audit log", permission: "audit.read" },
];

const ADMIN_NAV: NavItem[] = [
  { href: "/web/users", label: "Users", permission: "users" },
  { href: "/web/admin/nodes", label: "Manage nodes", permission: "nodes" },
  { href: "/web/admin/cluster", label: "Cluster status", permission: "nodes" },
];

/** The postern mark (same as the favicon). */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" width="24" height="24" aria-hidden="true">
      <rect width="32" height="32" rx="6" fill="#1f3a5f" />
      <path d="M9 25V8h9a6 6 0 0 1 0 12h-5v5z" fill="#f2b134" />
    </svg>
  );
}

/**
 * The page around a form for someone not signed in (sign-in, invite): the
 * postern mark, `title` as heading and document title, then `children`.
 */
export function AuthScreen(
  { title, wide = false, children }: {
    title: string;
    /** A wider card, for content beside the form (an authenticator QR code). */
    wide?: boolean;
    children: ComponentChildren;
  },
) {
  useTitle(title);
  return (
    <div class="auth-screen">
      <main class={wide ? "auth-card auth-card-wide" : "auth-card"} id="main">
        <div class="auth-brand">
          <Logo />
          <span>postern</span>
        </div>
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}

function NavList({ items, path }: { items: NavItem[]; path: string }) {
  return (
    <ul>
      {items.map((item) => {
        const active = path === item.href || path.startsWith(item.href + "/");
        return (
          <li key={item.href}>
            <Link href={item.href} class="nav-link" aria-current={active ? "page" : undefined}>
              {item.label}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}

/** Top bar + navigation around a signed-in page. */
export function Layout({ path, children }: { path: string; children: ComponentChildren }) {
  const { session, logout } = useSession();
  const [leaving, setLeaving] = useState(false);
  const allowed = (item: NavItem) => !item.permission || can(session, item.permission);
  const admin = ADMIN_NAV.filter(allowed);
  // In a narrow window the navigation is a tab bar that scrolls sideways: show the current tab.
  useEffect(() => {
    document.querySelector('.sidenav [aria-current="page"]')?.scrollIntoView({
      block: "nearest",
      inline: "nearest",
    });
  }, [path]);
  return (
    <div class="shell">
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <Link href="/web/nodes" class="brand">
          <Logo />
          <span>postern</span>
        </Link>
        <span class="cluster" title="Cluster">{session.cluster}</span>
        <span class="spacer" />
        <Link
          href="/web/account"
          class="topbar-user"
          data-testid="current-user"
          title="Your account"
        >
          {session.user}
        </Link>
        <button
          type="button"
          class="btn btn-small btn-topbar"
          disabled={leaving}
          onClick={() => {
            setLeaving(true);
            void logout();
          }}
        >
          Log out
        </button>
      </header>
      <div class="body">
        <nav class="sidenav" aria-label="Main">
          <NavList items={MAIN_NAV.filter(allowed)} path={path} />
          {admin.length > 0 && (
            <>
              <div class="nav-heading" aria-hidden="true">Administration</div>
              <NavList items={admin} path={path} />
            </>
          )}
          <div class="nav-heading" aria-hidden="true">You</div>
          <NavList items={[{ href: "/web/account", label: "Account" }]} path={path} />
        </nav>
        <main id="main" class="page" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}
