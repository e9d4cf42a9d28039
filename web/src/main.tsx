import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { I18nProvider } from "@cloudscape-design/components/i18n";
import messages from "@cloudscape-design/components/i18n/messages/all.en";
import "@cloudscape-design/global-styles/index.css";
import "./styles.css";
import { App } from "./App";

// English strings for every Cloudscape component (date picker, file upload, pagination labels...).
createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <I18nProvider locale="en" messages={[messages]}>
      <App />
    </I18nProvider>
  </StrictMode>,
);
