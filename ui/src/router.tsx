/** @jsxImportSource preact */
/// <reference lib="dom" />
/**
 * Client-side routing under `/web/` with the history API. The server answers
 * every `/web/*` path with index.html, so any URL here can be reloaded.
 *
 * @module
 */

import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Where the app is: path plus parsed query. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

globalThis.addEventListener("popstate", () => listeners.forEach((listener) => listener()));

/**
 * Goes to another page of the app.
 *
 * @param to a path under /web/, with an optional query
 * @param options replace: change the current history entry instead of adding one
 */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

/** Rewrites the current URL's query without a new history entry or re-render. */
export function replaceQuery(query: Record<string, string>): void {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const search = params.toString();
  history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
}

/** Sets (or, with "", removes) some query parameters of the current URL, keeping the others. */
export function updateQuery(changes: Record<string, string>): void {
  replaceQuery({ ...Object.fromEntries(new URLSearchParams(location.search)), ...changes });
}

/** The current location; re-renders the caller when it changes. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const listener = () => setLoc(current());
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return loc;
}

/**
 * Matches a path against a pattern like `/web/recordings/:id`.
 *
 * @returns the decoded parameters, or null when the path does not match
 */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = path.replace(/\/+$/, "").split("/");
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (!got[i]) return null;
      try {
        params[want[i].slice(1)] = decodeURIComponent(got[i]);
      } catch {
        return null;
      }
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

/**
 * A safe place to go after signing in: only paths inside the app, never
 * another origin (`//evil.example`) or the login page itself.
 *
 * @param fallback where to go otherwise (the user's home page)
 */
export function safeNext(next: string | null, fallback = "/web/nodes"): string {
  if (!next || !next.startsWith("/web/") || next.startsWith("//")) return fallback;
  if (next.startsWith("/web/login") || next.startsWith("/web/invite/")) return fallback;
  return next;
}

type LinkProps = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, "href"> & {
  href: string;
  children?: ComponentChildren;
};

/** An `<a>` that navigates inside the app (and still opens in a new tab with Ctrl/Cmd). */
export function Link({ href, onClick, ...rest }: LinkProps) {
  const handle = (event: JSX.TargetedMouseEvent<HTMLAnchorElement>) => {
    if (onClick) (onClick as (e: typeof event) => void)(event);
    if (
      event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
      event.shiftKey || event.altKey
    ) {
      return;
    }
    event.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
