import { useCallback, useEffect, useRef, useState } from "react";
import { TERMINAL, ml, streamJob, type Job, type JobDetail, type JobEvent } from "../api-ml";

const MAX_LOGS = 500;
const RETRY_MS = 2_000;
const CHAIN_POLL_MS = 5_000;

/** Merge new events into the list by sequence number (a resumed stream may repeat one). */
export function mergeEvents(current: JobEvent[], incoming: JobEvent[]): JobEvent[] {
  if (incoming.length === 0) return current;
  const seen = new Set(current.map((e) => e.seq));
  const merged = [...current, ...incoming.filter((e) => !seen.has(e.seq))].sort((a, b) => a.seq - b.seq);
  // Keep every metric (the curves) but only the newest log lines.
  const logs = merged.filter((e) => e.kind === "log");
  if (logs.length <= MAX_LOGS) return merged;
  const drop = new Set(logs.slice(0, logs.length - MAX_LOGS).map((e) => e.seq));
  return merged.filter((e) => !drop.has(e.seq));
}

export type LiveJob = { job: JobDetail | undefined; events: JobEvent[]; error: string | null; live: boolean; reload: () => Promise<void> };

/**
 * A job followed live: its stored events first (so a reload redraws the curves), then new ones and
 * status changes from the server-sent stream, which resumes after the last event it saw when the
 * connection drops. The job (with its pipeline chain) is re-read when the stream ends and every few
 * seconds while it runs.
 */
export function useLiveJob(usecaseId: string, jobId: string): LiveJob {
  const [job, setJob] = useState<JobDetail>();
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const lastSeq = useRef(0);

  const reload = useCallback(async () => {
    try {
      setJob(await ml.getJob(usecaseId, jobId));
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [usecaseId, jobId]);

  useEffect(() => {
    const abort = new AbortController();
    lastSeq.current = 0;
    setEvents([]);
    setJob(undefined);
    const follow = async () => {
      await reload();
      while (!abort.signal.aborted) {
        setLive(true);
        try {
          await streamJob(usecaseId, jobId, lastSeq.current, {
            onEvent: (e) => {
              lastSeq.current = Math.max(lastSeq.current, e.seq);
              setEvents((current) => mergeEvents(current, [e]));
            },
            onStatus: (j: Job) => setJob((current) => ({ ...j, chain: current?.chain ?? [] })),
          }, abort.signal);
          setLive(false);
          await reload();
          return;
        } catch {
          setLive(false);
          if (abort.signal.aborted) return;
          await new Promise((r) => window.setTimeout(r, RETRY_MS));
        }
      }
    };
    void follow();
    return () => abort.abort();
  }, [usecaseId, jobId, reload]);

  const running = job ? !TERMINAL.includes(job.status) : true;
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => { if (!document.hidden) void reload(); }, CHAIN_POLL_MS);
    return () => window.clearInterval(timer);
  }, [running, reload]);

  return { job, events, error, live, reload };
}
