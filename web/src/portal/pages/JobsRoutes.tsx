import type { ReactElement } from "react";
import { CompilationPage } from "./Compilation";
import { ComponentDetail, ComponentsPage } from "./Components";
import { JobDetailPage } from "./JobsDetail";
import { ModelDetail, ModelsPage } from "./Models";
import { ModelsComparePage } from "./ModelsCompare";
import { ModelVersionPage } from "./ModelsVersion";
import { TrainingPage } from "./Training";

const ID = "([^/]+)";

/** The ML pages (training, models, compilation, components) for a route; null for other routes. */
export function mlPage(path: string, params: URLSearchParams): ReactElement | null {
  const match = (pattern: string) => new RegExp(`^${pattern}$`).exec(path);
  const id = (m: RegExpExecArray) => decodeURIComponent(m[1]);
  let m: RegExpExecArray | null;
  if (path === "/training") return <TrainingPage />;
  if ((m = match(`/training/${ID}`)) || (m = match(`/compilation/${ID}`))) return <JobDetailPage key={id(m)} jobId={id(m)} />;
  if (path === "/compilation") return <CompilationPage initialVersion={params.get("version")} />;
  if (path === "/models") return <ModelsPage />;
  if (path === "/models/compare") return <ModelsComparePage a={params.get("a") ?? ""} b={params.get("b") ?? ""} />;
  if ((m = match(`/models/versions/${ID}`))) return <ModelVersionPage key={id(m)} versionId={id(m)} />;
  if ((m = match(`/models/${ID}`))) return <ModelDetail key={id(m)} modelId={id(m)} />;
  if (path === "/components") return <ComponentsPage />;
  if ((m = match(`/components/${ID}`))) return <ComponentDetail key={id(m)} componentId={id(m)} />;
  return null;
}
