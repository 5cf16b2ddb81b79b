/// <reference lib="dom" />
/**
 * Data-loading hooks shared by pages.
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
