import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { I18nProvider } from "@cloudscape-design/components/i18n";
import messages from "@cloudscape-design/components/i18n/messages/all.en";
import "@cloudscape-design/global-styles/index.css";
import "../styles.css";
import "./portal.css";
import { PortalApp } from "./App";

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <I18nProvider locale="en" messages={[messages]}>
      <PortalApp />
    </I18nProvider>
  </StrictMode>,
);
