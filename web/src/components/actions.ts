import { useState } from "react";
import { describeError, useNotify } from "./notify";

/**
 * The submit button of a form or dialog: `run(work)` marks it busy and, when `work` throws, keeps
 * the reason as `failure` for the form to show. `setFailure` reports a problem found before sending.
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const run = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setFailure(null);
    try {
      await work();
    } catch (e) {
      setFailure(describeError(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, failure, setFailure, run };
}

/**
 * A table page's actions on its selected row: `act(label, action, done)` marks the `label` button
 * busy, reports success (`done`) or failure as a page notice, then reloads the table. Resolves to
 * whether the action succeeded.
 */
export function usePageActions(reload: () => Promise<void>) {
  const notify = useNotify();
  const [busy, setBusy] = useState<string | null>(null);
  const act = async (label: string, action: () => Promise<unknown>, done: string): Promise<boolean> => {
    setBusy(label);
    try {
      await action();
      notify.success(done);
      return true;
    } catch (e) {
      notify.error(e, label.toLowerCase());
      return false;
    } finally {
      setBusy(null);
      void reload();
    }
  };
  return { busy, act };
}
