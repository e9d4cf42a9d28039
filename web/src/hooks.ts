import { useCallback, useEffect, useRef, useState } from "react";

export type Loaded<T> = {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => Promise<void>;
};

/**
 * Load data with `load`, and again every `intervalMs` when given (paused while the tab is hidden).
 * A slow request never overlaps the next one: polls are skipped while one is in flight.
 */
export function useLoader<T>(load: () => Promise<T>, deps: unknown[], intervalMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const inFlight = useRef(false);
  const generation = useRef(0);
  const loadRef = useCallback(load, deps);

  const reload = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    const mine = generation.current;
    try {
      const value = await loadRef();
      if (mine === generation.current) {
        setData(value);
        setError(null);
      }
    } catch (e) {
      if (mine === generation.current) setError(e instanceof Error ? e.message : String(e));
    } finally {
      inFlight.current = false;
      if (mine === generation.current) setLoading(false);
    }
  }, [loadRef]);

  useEffect(() => {
    generation.current += 1;
    inFlight.current = false;
    setLoading(true);
    void reload();
    if (!intervalMs) return;
    const timer = window.setInterval(() => {
      if (!document.hidden) void reload();
    }, intervalMs);
    return () => window.clearInterval(timer);
  }, [reload, intervalMs]);

  return { data, error, loading, reload };
}

/** The current "#/path?query" route, split into path and query parameters. */
export function useHashRoute(): { path: string; params: URLSearchParams } {
  const read = () => {
    const hash = window.location.hash.replace(/^#/, "") || "/live";
    const [path, query = ""] = hash.split("?");
    return { path, params: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(path: string): void {
  window.location.hash = path;
}

/**
 * Object URL for a blob loaded with `load`, reloaded when `key` changes. The previous image stays
 * shown until the next one arrives (no flicker on the Live page); each URL is revoked once replaced.
 */
export function useObjectUrl(load: (() => Promise<Blob>) | null, key: string): { url: string | null; error: string | null } {
  const [state, setState] = useState<{ url: string | null; error: string | null }>({ url: null, error: null });
  const current = useRef<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    if (!load) {
      if (current.current) URL.revokeObjectURL(current.current);
      current.current = null;
      setState({ url: null, error: null });
      return;
    }
    load()
      .then((blob) => {
        if (cancelled) return;
        const previous = current.current;
        current.current = URL.createObjectURL(blob);
        setState({ url: current.current, error: null });
        if (previous) URL.revokeObjectURL(previous);
      })
      .catch((e: unknown) => {
        if (!cancelled) setState((s) => ({ url: s.url, error: e instanceof Error ? e.message : String(e) }));
      });
    return () => {
      cancelled = true;
    };
  }, [key]);
  useEffect(
    () => () => {
      if (current.current) URL.revokeObjectURL(current.current);
    },
    [],
  );
  return state;
}
