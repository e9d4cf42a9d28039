import { createContext, useContext } from "react";
import type { Me, UseCase } from "./api";

/** The signed-in user, the use cases they see and the one the pages work on. */
export type PortalState = {
  me: Me;
  usecases: UseCase[];
  usecaseId: string | null;
  setUsecaseId: (id: string | null) => void;
  reloadSession: () => Promise<void>;
};

export const PortalContext = createContext<PortalState | null>(null);

export function usePortal(): PortalState {
  const state = useContext(PortalContext);
  if (!state) throw new Error("usePortal outside the portal app");
  return state;
}
