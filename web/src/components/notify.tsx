import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import Flashbar, { type FlashbarProps } from "@cloudscape-design/components/flashbar";
import { ApiError } from "../api";

type Notify = {
  success: (message: string) => void;
  error: (error: unknown, action?: string) => void;
};

const NotifyContext = createContext<Notify>({ success: () => undefined, error: () => undefined });

export function useNotify(): Notify {
  return useContext(NotifyContext);
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.hint ? `${error.message} — ${error.hint}` : error.message;
  return error instanceof Error ? error.message : String(error);
}

let counter = 0;

/** Holds the page-level messages; render <Notifications/> in the AppLayout notifications slot. */
export function useNotifications(): { items: FlashbarProps.MessageDefinition[]; notify: Notify } {
  const [items, setItems] = useState<FlashbarProps.MessageDefinition[]>([]);
  const push = useCallback((type: FlashbarProps.Type, content: string, header?: string) => {
    counter += 1;
    const id = `n${counter}`;
    const dismiss = () => setItems((all) => all.filter((m) => m.id !== id));
    // A new success replaces older ones (they only confirm what the page already shows).
    setItems((all) => [
      ...all.filter((m) => type !== "success" || m.type !== "success").slice(-3),
      { id, type, content, header, dismissible: true, dismissLabel: "Dismiss message", onDismiss: dismiss },
    ]);
    if (type === "success") window.setTimeout(dismiss, 4000);
  }, []);
  const notify = useMemo<Notify>(
    () => ({
      success: (message) => push("success", message),
      error: (error, action) => push("error", describeError(error), action ? `Could not ${action}` : undefined),
    }),
    [push],
  );
  return { items, notify };
}

export function NotifyProvider({ notify, children }: { notify: Notify; children: ReactNode }) {
  return <NotifyContext.Provider value={notify}>{children}</NotifyContext.Provider>;
}

export function Notifications({ items }: { items: FlashbarProps.MessageDefinition[] }) {
  return <Flashbar items={items} stackItems={items.length > 2} />;
}
