// The ML side of the portal REST API, typed: jobs (training, evaluation, compilation, packaging,
// publishing) with their live event stream, the model registry, dataset versions to pick from,
// components and signing keys. Same session and error handling as ./api.
import { allPages, queryString, request, type Page } from "./api";

// ---------- types mirroring src/dda/portal/schemas/{jobs,models,datasets}.py ----------

export type JobType = "training" | "evaluation" | "compilation" | "packaging" | "publishing" | "labeling_export";
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const TERMINAL: readonly string[] = ["succeeded", "failed", "cancelled"];

export type Job = {
  id: string;
  usecase_id: string;
  type: JobType;
  queue: string;
  name: string;
  parameters: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  current_step: string;
  result: Record<string, unknown>;
  error: string | null;
  error_hint: string | null;
  parent_id: string | null;
  retry_of: string | null;
  pipeline: boolean;
  attempt: number;
  cancel_requested: boolean;
  worker: string;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
};
export type JobDetail = Job & { chain: Job[] };
export type JobEvent = { seq: number; at: string; kind: "log" | "metric"; level: string; message: string; data: Record<string, unknown> };

export type DatasetRef = { version_id: string };
export type ModelRef = { version_id: string; model_name?: string };
export type Target = "x86_64-cpu" | "arm64-cpu" | "openvino" | "jetson" | "x86_64-cuda";
export type Precision = "fp32" | "int8";
export const TARGETS: Target[] = ["x86_64-cpu", "arm64-cpu", "openvino", "jetson", "x86_64-cuda"];
export const INT8_TARGETS: Target[] = ["x86_64-cpu", "arm64-cpu"];

export type TrainingOptions = {
  backbone?: string;
  pretrained?: boolean;
  input_size?: [number, number];
  epochs?: number;
  batch_size?: number;
  learning_rate?: number;
  patience?: number;
  num_threads?: number;
};
export type TrainingParams = {
  dataset: DatasetRef;
  model_type: "classification" | "segmentation" | "anomaly";
  model_name: string;
  options: TrainingOptions;
};
export type CompilationParams = {
  model: ModelRef;
  targets: Target[];
  precisions: Precision[];
  calibration?: DatasetRef;
};
export type Parity = {
  passed?: boolean;
  target?: string;
  precision?: string;
  images?: number;
  failures?: string[];
  metrics?: Record<string, unknown>;
  notes?: string[];
};
export type ExportResult = { target: string; precision: string; prefix: string; parity: Parity; refused?: boolean; error?: string; hint?: string };
export type CompilationResult = { model: ModelRef; exports: ExportResult[]; refused: ExportResult[]; notes: string[] };
export type PackageResult = {
  name: string;
  version: string;
  target: string;
  precision: string;
  key: string;
  sha256: string;
  signing_key: string;
  registry_package_id: string | null;
};
export type PackagingResult = { model: ModelRef; packages: PackageResult[] };

export type Stage = "candidate" | "staging" | "production" | "archived";
export const STAGES: Stage[] = ["candidate", "staging", "production", "archived"];
export type RegistryVersion = {
  id: string;
  model_id: string;
  model_name: string;
  version: number;
  stage: Stage;
  source: string;
  description: string;
  model_type: string;
  backbone: string;
  artifact_sha256: string;
  artifact_bytes: number;
  input_size: number[] | null;
  class_names: string[];
  threshold: number | null;
  metrics: Record<string, unknown>;
  plots: string[];
  lineage: Record<string, unknown>;
  created_by: string | null;
  created_at: string;
  stage_changed_at: string;
};
export type RegistryModel = {
  id: string;
  name: string;
  description: string;
  model_type: string;
  created_at: string;
  updated_at: string;
  latest_version: RegistryVersion | null;
  production_version: RegistryVersion | null;
};
export type StageChange = { from_stage: string | null; to_stage: string; actor_id: string | null; reason: string; at: string };
export type RegistryPackage = {
  id: string;
  version_id: string;
  target: string;
  precision: string;
  package_key: string;
  sha256: string;
  report: Parity;
  created_at: string;
};
export type VersionDetail = RegistryVersion & { config: Record<string, unknown>; history: StageChange[]; packages: RegistryPackage[] };
export type MetricRow = { metric: string; a: number | null; b: number | null; delta: number | null };
export type Comparison = {
  a: RegistryVersion;
  b: RegistryVersion;
  metrics: MetricRow[];
  config_differences: Record<string, Record<string, unknown>>;
};

export type Dataset = { id: string; name: string; description: string; versions: number; latest_version: number | null; created_at: string };
export type DatasetVersion = {
  id: string;
  dataset_id: string;
  number: number;
  source: string;
  label_format: string;
  image_count: number;
  classes: Record<string, unknown>;
  created_at: string;
};
/** A dataset version as the pickers list it. */
export type DatasetChoice = { id: string; label: string; description: string };

export type Component = {
  id: string;
  kind: "model" | "station";
  name: string;
  version: string;
  platform: string;
  dependencies: Record<string, unknown>;
  default_config: Record<string, unknown>;
  config_schema: Record<string, unknown>;
  model_ref: Record<string, unknown>;
  package_sha256: string | null;
  signing_key_fingerprint: string | null;
  job_id: string | null;
  created_at: string;
};
export const PLATFORMS = ["linux/amd64", "linux/arm64", "linux/amd64+cuda", "linux/arm64+jetson"] as const;
export type StationComponentCreate = { name: string; version: string; platform: (typeof PLATFORMS)[number] };
export type SigningKey = { fingerprint: string; public_pem: string; active: boolean; created_at: string; retired_at: string | null };

// ---------- transport ----------

async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await request(path, init);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  return json<T>(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export type SseMessage = { id: string | null; event: string; data: string };

/**
 * Split server-sent-event text into complete messages and the unfinished rest (kept for the next
 * chunk). Follows the wire format the portal writes: `id:`, `event:`, `data:` lines, a blank line
 * ends a message; comments (`:`) are skipped.
 */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
  const messages: SseMessage[] = [];
  const text = buffer.replace(/\r\n?/g, "\n");
  const blocks = text.split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let id: string | null = null;
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length || event !== "message") messages.push({ id, event, data: data.join("\n") });
  }
  return { messages, rest };
}

export type JobStreamHandlers = {
  onEvent: (event: JobEvent) => void;
  onStatus: (job: Job) => void;
};

/**
 * Follow a job's server-sent events (fetch, not EventSource: the API wants the bearer token).
 * Resolves when the job is over (`end`) or `signal` aborts; rejects when the connection fails.
 */
export async function streamJob(
  usecaseId: string,
  jobId: string,
  after: number,
  handlers: JobStreamHandlers,
  signal: AbortSignal,
): Promise<void> {
  const response = await request(`${uc(usecaseId)}/jobs/${enc(jobId)}/events${queryString({ after })}`, {
    signal,
    headers: { Accept: "text/event-stream" },
  });
  const reader = response.body?.getReader();
  if (!reader) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const parsed = parseSse(buffer);
    buffer = parsed.rest;
    for (const message of parsed.messages) {
      if (message.event === "end") return;
      if (message.event === "status") handlers.onStatus(JSON.parse(message.data) as Job);
      else if (message.event === "log" || message.event === "metric") handlers.onEvent(JSON.parse(message.data) as JobEvent);
    }
  }
}

const enc = (part: string | number) => encodeURIComponent(String(part));
const uc = (id: string) => `/usecases/${enc(id)}`;

// ---------- endpoints ----------

export const ml = {
  // jobs
  listJobs: (id: string, filter: { type?: JobType; status?: string; parent_id?: string } = {}, pages = 2) =>
    allPages((cursor) => json<Page<Job>>(`${uc(id)}/jobs${queryString({ ...filter, cursor })}`), pages),
  getJob: (id: string, jobId: string) => json<JobDetail>(`${uc(id)}/jobs/${enc(jobId)}`),
  jobEvents: (id: string, jobId: string, kind?: "log" | "metric", after = 0) =>
    json<JobEvent[]>(`${uc(id)}/jobs/${enc(jobId)}/logs${queryString({ kind, after, limit: 5000 })}`),
  createJob: (id: string, type: Exclude<JobType, "labeling_export">, parameters: unknown, name = "") =>
    send<Job>("POST", `${uc(id)}/jobs`, { type, parameters, name }),
  trainAndPublish: (id: string, parameters: TrainingParams, targets: Target[], precisions: Precision[], name = "") =>
    send<Job>("POST", `${uc(id)}/jobs/train-and-publish`, { parameters, targets, precisions, name }),
  cancelJob: (id: string, jobId: string) => send<Job>("POST", `${uc(id)}/jobs/${enc(jobId)}/cancel`),
  retryJob: (id: string, jobId: string) => send<Job>("POST", `${uc(id)}/jobs/${enc(jobId)}/retry`),

  // model registry
  listModels: (id: string) => allPages((cursor) => json<Page<RegistryModel>>(`${uc(id)}/models${queryString({ cursor })}`), 5),
  getModel: (id: string, modelId: string) => json<RegistryModel>(`${uc(id)}/models/${enc(modelId)}`),
  listVersions: (id: string, modelId: string) =>
    allPages((cursor) => json<Page<RegistryVersion>>(`${uc(id)}/models/${enc(modelId)}/versions${queryString({ cursor })}`), 5),
  getVersion: (id: string, versionId: string) => json<VersionDetail>(`${uc(id)}/models/versions/${enc(versionId)}`),
  plot: async (id: string, versionId: string, plot: string) =>
    (await request(`${uc(id)}/models/versions/${enc(versionId)}/plots/${enc(plot)}.png`)).blob(),
  compare: (id: string, a: string, b: string) => json<Comparison>(`${uc(id)}/models/compare${queryString({ a, b })}`),
  setStage: (id: string, versionId: string, stage: Stage, reason = "") =>
    send<unknown>("PUT", `${uc(id)}/models/versions/${enc(versionId)}/stage`, { stage, reason }),

  // datasets (to pick a version from)
  listDatasets: (id: string) => allPages((cursor) => json<Page<Dataset>>(`${uc(id)}/datasets${queryString({ cursor })}`), 5),
  listDatasetVersions: (id: string, datasetId: string) =>
    allPages((cursor) => json<Page<DatasetVersion>>(`${uc(id)}/datasets/${enc(datasetId)}/versions${queryString({ cursor })}`), 2),

  // components and signing keys
  listComponents: (id: string, kind?: "model" | "station") => json<Component[]>(`${uc(id)}/components${queryString({ kind })}`),
  createStationComponent: (id: string, body: StationComponentCreate) => send<Component>("POST", `${uc(id)}/components`, body),
  getComponent: (id: string, componentId: string) => json<Component>(`${uc(id)}/components/${enc(componentId)}`),
  componentPackage: async (id: string, componentId: string) =>
    (await request(`${uc(id)}/components/${enc(componentId)}/package`)).blob(),
  signingKeys: (id: string) => json<SigningKey[]>(`${uc(id)}/signing-keys`),
};

/** Every version of every dataset of the use case, newest first, as dropdown choices. */
export async function datasetChoices(usecaseId: string): Promise<DatasetChoice[]> {
  const datasets = await ml.listDatasets(usecaseId);
  const lists = await Promise.all(
    datasets.map(async (d) => (await ml.listDatasetVersions(usecaseId, d.id)).map((v) => ({ d, v }))),
  );
  return lists.flat().map(({ d, v }) => ({
    id: v.id,
    label: `${d.name} v${v.number}`,
    description: `${v.image_count} images · ${v.label_format}`,
  }));
}

/** Every version of every registered model, newest first, as dropdown choices. */
export async function versionChoices(usecaseId: string): Promise<RegistryVersion[]> {
  const models = await ml.listModels(usecaseId);
  return (await Promise.all(models.map((m) => ml.listVersions(usecaseId, m.id)))).flat();
}
