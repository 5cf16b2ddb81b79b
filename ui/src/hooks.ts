/// <reference lib="dom" />
/**
 * Hooks shared by pages: loading data, and running an action a user started.
 *
 * @module
 */

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "./api.ts";

/** The state of one load: the last data, whether a load runs, the last error. */
export interface Loaded<T> {
  data: T | undefined;
  loading: boolean;
  error: string | null;
  /** Loads again (keeps showing the old data meanwhile). */
  reload: () => void;
}

/**
 * Runs `load` now, whenever `deps` change, on `reload()`, and every
 * `refreshMs` when given. Results of superseded loads are dropped.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  refreshMs?: number,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    const mine = ++generation.current;
    setLoading(true);
    load().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (err) => {
        if (mine !== generation.current) return;
        setError(messageOf(err));
        setLoading(false);
      },
    );
  }, [...deps, tick]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") reload();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs]);

  return { data, loading, error, reload };
}

/** The state of the actions a form or page runs: whether one runs, the last error. */
export interface Action {
  /** Whether an action runs now. */
  busy: boolean;
  /** The message of the last failure, or of a check made before running. */
  error: string | null;
  /** Sets (or clears, with `null`) the message shown, e.g. after a failed input check. */
  setError: (message: string | null) => void;
  /**
   * Runs `action`: clears the error, is busy until it settles, and keeps the
   * message of what it threw. Never rejects.
   *
   * @returns whether the action succeeded
   */
  run: (action: () => Promise<unknown>) => Promise<boolean>;
}

/**
 * Busy and error state for actions a user starts (submitting a form,
 * removing a row), so a failure shows as a message instead of being lost.
 *
 * @param describe turns what an action threw into the message to show
 * @example
 * ```tsx
 * const { busy, error, run } = useAction();
 * const submit = (event: Event) => {
 *   event.preventDefault();
 *   void run(() => request("POST", "/v1/webapi/users", { body }));
 * };
 * return <form onSubmit={submit} aria-busy={busy}><ErrorAlert message={error} />…</form>;
 * ```
 */
export function useAction(describe: (error: unknown) => string = messageOf): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (err) {
      setError(describe(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
