/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Application shell: finds out who is signed in, picks the page for the URL
 * and wraps it in the layout.
 *
 * @module
 */

import type { ComponentChildren, VNode } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, messageOf, request, setCsrfToken, setSessionLostHandler } from "./api.ts";
import { ErrorAlert } from "./components/Alert.tsx";
import { Layout } from "./components/Layout.tsx";
import { AccountPage } from "./pages/Account.tsx";
import { AdminNodesPage } from "./pages/AdminNodes.tsx";
import { AuditPage } from "./pages/Audit.tsx";
import { ClusterPage } from "./pages/Cluster.tsx";
import { CliLoginPage } from "./pages/CliLogin.tsx";
import { InvitePage } from "./pages/Invite.tsx";
import { LoginPage } from "./pages/Login.tsx";
import { NodesPage } from "./pages/Nodes.tsx";
import { ForbiddenPage, NotFoundPage } from "./pages/NotFound.tsx";
import { PlayerPage } from "./pages/Player.tsx";
import { RecordingsPage } from "./pages/Recordings.tsx";
import { SessionsPage } from "./pages/Sessions.tsx";
import { TerminalPage } from "./pages/Terminal.tsx";
import { UsersPage } from "./pages/Users.tsx";
import { UserPage } from "./pages/User.tsx";
import { type Location, matchPath, navigate, safeNext, useLocation } from "./router.tsx";
import {
  can,
  fetchCurrentSession,
  homePath,
  SessionContext,
  type SessionState,
} from "./session.tsx";
import type { Permission, WebSession } from "./types.ts";

type Auth =
  | { status: "unknown" }
  | { status: "loading" }
  | { status: "signed-in"; session: WebSession }
  | { status: "signed-out"; reason?: string }
  | { status: "failed"; message: string };

/** A page the router can show to a signed-in user. */
interface Route {
  page: VNode;
  /** Full-window pages (the terminal) skip the navigation layout. */
  bare?: boolean;
  permission?: Permission;
}

/** Picks the signed-in page for a location, or null when nothing matches. */
function route({ path, query }: Location): Route | null {
  const exact: Record<string, () => Route> = {
    "/web/nodes": () => ({ page: <NodesPage /> }),
    "/web/sessions": () => ({ page: <SessionsPage /> }),
    "/web/recordings": () => ({ page: <RecordingsPage /> }),
    "/web/audit": () => ({ page: <AuditPage />, permission: "audit.read" }),
    "/web/users": () => ({ page: <UsersPage />, permission: "users" }),
    "/web/admin/nodes": () => ({ page: <AdminNodesPage />, permission: "nodes" }),
    "/web/admin/cluster": () => ({ page: <ClusterPage />, permission: "nodes" }),
    "/web/account": () => ({ page: <AccountPage /> }),
    "/web/terminal/new": () => ({
      bare: true,
      page: (
        <TerminalPage
          target={{ kind: "new", node: query.get("node") ?? "", login: query.get("login") ?? "" }}
        />
      ),
    }),
  };
  const clean = path.replace(/\/+$/, "");
  if (exact[clean]) return exact[clean]();
  const join = matchPath("/web/sessions/:id/join", clean);
  if (join) {
    const mode = query.get("mode") === "peer" ? "peer" : "observer";
    return {
      bare: true,
      page: <TerminalPage target={{ kind: "join", sessionId: join.id, mode }} />,
    };
  }
  const recording = matchPath("/web/recordings/:id", clean);
  if (recording) return { page: <PlayerPage id={recording.id} /> };
  const user = matchPath("/web/users/:name", clean);
  if (user) return { page: <UserPage name={user.name} />, permission: "users" };
  const cliLogin = matchPath("/web/cli-login/:code", clean);
  if (cliLogin) return { page: <CliLoginPage code={cliLogin.code} /> };
  return null;
}

function here(): string {
  return location.pathname + location.search;
}

function loginPath(next: string): string {
  return `/web/login?${new URLSearchParams({ next })}`;
}

function Splash({ children }: { children: ComponentChildren }) {
  return (
    <div class="auth-screen">
      <main class="auth-card" id="main">{children}</main>
    </div>
  );
}

/** The whole app. */
export function App() {
  const loc = useLocation();
  const [auth, setAuth] = useState<Auth>({ status: "unknown" });
  const mainFocus = useRef(loc.path);
  const clean = loc.path.replace(/\/+$/, "");
  const isLogin = clean === "/web/login";
  const invite = matchPath("/web/invite/:token", clean);

  useEffect(() => {
    setSessionLostHandler(() => {
      setCsrfToken("");
      setAuth({ status: "signed-out", reason: "Your session has ended. Sign in again." });
      if (!location.pathname.startsWith("/web/login")) {
        navigate(loginPath(here()), { replace: true });
      }
    });
  }, []);

  // Sign-in pages never ask who is signed in: that would log a 401 for every visitor.
  useEffect(() => {
    if (isLogin || invite || auth.status !== "unknown") return;
    setAuth({ status: "loading" });
    fetchCurrentSession().then(
      (session) => setAuth({ status: "signed-in", session }),
      (err) => {
        if (err instanceof ApiError && err.status === 401) {
          setAuth({ status: "signed-out" });
        } else {
          setAuth({ status: "failed", message: messageOf(err) });
        }
      },
    );
  }, [isLogin, invite !== null, auth.status]);

  const atRoot = clean === "/web" || clean === "";
  useEffect(() => {
    if (atRoot && auth.status === "signed-in") navigate(homePath(auth.session), { replace: true });
    else if (auth.status === "signed-out" && !isLogin && !invite) {
      navigate(loginPath(here()), { replace: true });
    }
  }, [clean, auth.status]);

  // Move focus to the new page's content so keyboard and screen reader users start there.
  useEffect(() => {
    if (mainFocus.current === loc.path) return;
    mainFocus.current = loc.path;
    globalThis.scrollTo?.(0, 0);
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [loc.path]);

  const sessionState = useMemo<SessionState | null>(() => {
    if (auth.status !== "signed-in") return null;
    return {
      session: auth.session,
      logout: async () => {
        try {
          await request("DELETE", "/v1/webapi/sessions", { session: false });
        } catch {
          // Signed out locally either way; the server expires the session on its own.
        }
        setCsrfToken("");
        setAuth({ status: "signed-out" });
        navigate("/web/login", { replace: true });
      },
    };
  }, [auth]);

  const onLogin = (session: WebSession) => {
    setAuth({ status: "signed-in", session });
    navigate(safeNext(loc.query.get("next"), homePath(session)), { replace: true });
  };

  if (isLogin) {
    const reason = auth.status === "signed-out" ? auth.reason : undefined;
    return <LoginPage onLogin={onLogin} reason={reason} />;
  }
  if (invite) return <InvitePage token={invite.token} onLogin={onLogin} />;
  if (auth.status === "failed") {
    return (
      <Splash>
        <h1>Cannot load postern</h1>
        <ErrorAlert message={auth.message} />
        <button
          type="button"
          class="btn btn-primary"
          onClick={() => setAuth({ status: "unknown" })}
        >
          Try again
        </button>
      </Splash>
    );
  }
  if (!sessionState) {
    return (
      <Splash>
        <p class="muted" aria-busy="true">Loading…</p>
      </Splash>
    );
  }
  if (atRoot) return null; // sent to the user's home page by the effect above
  const found = route(loc);
  let page: VNode;
  if (!found) page = <NotFoundPage path={loc.path} />;
  else if (found.permission && !can(sessionState.session, found.permission)) {
    page = <ForbiddenPage permission={found.permission} />;
  } else page = found.page;
  return (
    <SessionContext.Provider value={sessionState}>
      {found?.bare ? page : <Layout path={clean}>{page}</Layout>}
    </SessionContext.Provider>
  );
}
