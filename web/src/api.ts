// The station REST API (src/dda/station/api), typed. Every call the UI makes goes through here.
// URLs are relative: the station serves this app and its API from the same origin.

const TOKEN_KEY = "dda.token";
const API = "/api/v1";

// ---------- types mirroring src/dda/station/schemas ----------

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  format?: string;
  writeOnly?: boolean;
  [key: string]: unknown;
};

export type PluginInfo = { type: string; title: string; schema: JsonSchema; description?: string };
export type Plugins = { sources: PluginInfo[]; triggers: PluginInfo[]; outputs: PluginInfo[] };

export type PluginConfig = { type: string; [key: string]: unknown };

export type Roi = { x: number; y: number; width: number; height: number };
export type PipelineStep =
  | { op: "rotate"; degrees: 90 | 180 | 270 }
  | { op: "flip"; axis: "horizontal" | "vertical" }
  | { op: "grayscale" };
/** src/dda/station/plugins/processing.py CameraSettings */
export type CameraSettings = {
  exposure_us?: number | null;
  gain?: number | null;
  roi?: Roi | null;
  pipeline?: PipelineStep[];
};

/** Database ids are integers; capture ids are UUID strings. */
export type Id = number;

/** schemas/sources.py ImageSourceOut */
export type ImageSource = {
  id: Id;
  name: string;
  type: string;
  config: PluginConfig;
  camera: CameraSettings;
  created_at: string;
  updated_at: string;
};
/** schemas/sources.py CaptureOut */
export type Capture = {
  id: string;
  source_id: Id | null;
  capture_type: string;
  width: number;
  height: number;
  created_at: string;
  image_url: string;
};
export type ImageSourceInput = { name: string; config: PluginConfig; camera: CameraSettings };

export type Verdict = "normal" | "anomaly";

/** schemas/results.py ResultOut */
export type InferenceResult = {
  id: Id;
  capture_id: string;
  capture_type: string;
  workflow_id: Id | null;
  workflow_name: string;
  created_at: string;
  prediction: Verdict | string;
  label: string;
  confidence: number;
  anomaly_score: number;
  threshold: number;
  /** defect class -> percent of the image area */
  labels: Record<string, number>;
  mask_path: string | null;
  input_path: string;
  output_path: string;
  manifest_path: string;
  model_name: string;
  model_version: string;
  flag_for_review: boolean;
  human_classification: Verdict | null;
  note: string | null;
  downloaded: boolean;
  latency_ms: Record<string, number>;
  has_mask: boolean;
  /** kind -> short-lived signed URL of that one image (usable in <img src>, no token in it) */
  image_urls?: Partial<Record<ImageKind, string>>;
};
export type ResultPage = { items: InferenceResult[]; total: number };
/** schemas/results.py ResultQuery */
export type ResultFilter = {
  workflow_id?: Id;
  prediction?: Verdict;
  flagged?: boolean;
  since?: string;
  until?: string;
  limit?: number;
  offset?: number;
};
/** schemas/results.py ResultReview */
export type ResultReview = {
  flag_for_review?: boolean | null;
  human_classification?: Verdict | null;
  note?: string | null;
};
/** services/results.py summary() */
export type ResultSummary = {
  total: number;
  normal: number;
  anomaly: number;
  flagged: number;
  by_prediction: Record<string, number>;
  per_workflow: Record<string, { workflow_id: Id | null; total: number; normal?: number; anomaly?: number }>;
};
export type ImageKind = "input" | "overlay" | "mask";

export type WorkflowState = "stopped" | "running" | "error" | string;
/** schemas/workflows.py WorkflowOut */
export type Workflow = {
  id: Id;
  name: string;
  source_id: Id;
  model_name: string;
  model_version: string;
  triggers: PluginConfig[];
  outputs: PluginConfig[];
  state: WorkflowState;
  error?: string | null;
  last_result: InferenceResult | null;
  created_at: string;
  updated_at: string;
};
export type WorkflowInput = {
  name: string;
  source_id: Id;
  model_name: string;
  model_version: string;
  triggers: PluginConfig[];
  outputs: PluginConfig[];
};

/** schemas/models.py ModelOut */
export type Model = {
  name: string;
  version: string;
  model_type: string;
  labels: string[];
  mask_labels: string[];
  threshold: number;
  target: string;
  format: string;
  created_at: string | null;
  installed_at: string | null;
  size_bytes: number;
  loaded: boolean;
  status: "loaded" | "installed" | string;
  pinned_by: string[];
  metrics: Record<string, unknown>;
  /** FP32 or INT8 (quantized) */
  precision?: string;
  /** mask class -> colour in the mask images */
  mask_colors?: Record<string, string>;
};

export type LatencyStats = { p50: number | null; p99: number | null; count?: number | null };
/** services/health_history.py (GET /api/v1/health/history): one point per interval, oldest first */
export type HealthPoint = { t: number; cpu_percent: number; memory_percent: number; rss_mb: number; throughput_per_s: number };
export type HealthHistory = { interval_s: number; points: HealthPoint[] };
/** services/health.py health() (GET /api/v1/health with a login; without one only {status, live}) */
export type Health = {
  status: "ok" | "degraded" | string;
  version: string;
  uptime_s: number;
  cpu_percent: number;
  memory: { used_bytes: number; total_bytes: number; percent: number; rss_bytes: number };
  disk: { used_bytes: number; total_bytes: number; free_bytes: number; percent: number };
  storage: { used_bytes: number; quota_bytes: number };
  models: { name: string; version: string; status: string; loaded: boolean }[];
  latency_ms: Record<string, LatencyStats>;
  throughput_per_s: number;
  counts: { total: number; normal: number; anomaly: number; flagged: number };
  workflows: { id: Id; name: string; state: string; error: string | null }[];
};

export type AuthStatus = { setup_required: boolean; setup_code_required?: boolean };
/** schemas/auth.py TokenOut */
export type Token = { access_token: string; token_type: string; expires_in: number };
/** schemas/auth.py UserOut */
export type Me = { id: Id; username: string; role: "admin" | "operator" | "viewer" | string; is_admin: boolean; created_at: string };

// ---------- plumbing ----------

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

let unauthorizedHandler: (() => void) | null = null;
/** Called (once per failing request) when the API answers 401, so the app can show the login. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}
export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Turn the station's error body ({error, hint} or FastAPI's {detail}) into one readable message. */
export function errorMessage(body: unknown, fallback: string): { message: string; hint?: string } {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const hint = typeof b.hint === "string" ? b.hint : undefined;
    for (const key of ["error", "message", "detail"]) {
      const value = b[key];
      if (typeof value === "string") return { message: value, hint };
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const nested = errorMessage(value, fallback);
        return { message: nested.message, hint: hint ?? nested.hint };
      }
      if (Array.isArray(value)) {
        // FastAPI validation errors: [{loc: [...], msg}]
        const parts = value.map((v) => {
          const item = v as { loc?: unknown[]; msg?: string };
          const where = (item.loc ?? []).filter((p) => p !== "body").join(".");
          return where ? `${where}: ${item.msg}` : String(item.msg);
        });
        return { message: parts.join("; "), hint };
      }
    }
  }
  return { message: fallback };
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) };
  const response = await fetch(`${API}${path}`, { ...init, headers });
  if (response.ok) return response;
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401 && unauthorizedHandler && !path.startsWith("/auth/")) unauthorizedHandler();
  const { message, hint } = errorMessage(body, `${response.status} ${response.statusText}`);
  throw new ApiError(response.status, message, hint);
}

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

/** Build "?a=1&b=2" from the defined entries of an object (empty string when none). */
export function queryString(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The most results one export may hold (ResultQuery.limit's maximum). */
export const EXPORT_LIMIT = 10_000;

const enc = (part: string | number) => encodeURIComponent(String(part));

// ---------- endpoints ----------

export const api = {
  // auth
  authStatus: () => json<AuthStatus>("/auth/status"),
  setup: (username: string, password: string, setupCode?: string) =>
    send<unknown>("POST", "/auth/setup", { username, password, ...(setupCode ? { setup_code: setupCode } : {}) }),
  login: (username: string, password: string) =>
    send<Token>("POST", "/auth/login", { username, password }),
  me: () => json<Me>("/auth/me"),

  plugins: () => json<Plugins>("/plugins"),

  // image sources
  listSources: () => json<ImageSource[]>("/image-sources"),
  getSource: (id: Id) => json<ImageSource>(`/image-sources/${enc(id)}`),
  createSource: (body: ImageSourceInput) => send<ImageSource>("POST", "/image-sources", body),
  updateSource: (id: Id, body: ImageSourceInput) => send<ImageSource>("PUT", `/image-sources/${enc(id)}`, body),
  deleteSource: (id: Id) => send<void>("DELETE", `/image-sources/${enc(id)}`),
  previewSource: async (id: Id) => (await request(`/image-sources/${enc(id)}/preview`, { method: "POST" })).blob(),
  captureSource: (id: Id) => send<Capture>("POST", `/image-sources/${enc(id)}/capture`),
  /** A stored capture's image; `imageUrl` is Capture.image_url ("/api/v1/captures/<id>/image"). */
  captureImage: async (imageUrl: string) => {
    if (!imageUrl.startsWith(`${API}/`)) throw new ApiError(0, `unexpected image URL ${imageUrl}`);
    return (await request(imageUrl.slice(API.length))).blob();
  },

  // workflows
  listWorkflows: () => json<Workflow[]>("/workflows"),
  getWorkflow: (id: Id) => json<Workflow>(`/workflows/${enc(id)}`),
  createWorkflow: (body: WorkflowInput) => send<Workflow>("POST", "/workflows", body),
  updateWorkflow: (id: Id, body: WorkflowInput) => send<Workflow>("PUT", `/workflows/${enc(id)}`, body),
  deleteWorkflow: (id: Id) => send<void>("DELETE", `/workflows/${enc(id)}`),
  runWorkflow: (id: Id, file?: File) => {
    if (!file) return send<InferenceResult>("POST", `/workflows/${enc(id)}/run`);
    const form = new FormData();
    form.append("file", file);
    return json<InferenceResult>(`/workflows/${enc(id)}/run`, { method: "POST", body: form });
  },
  startWorkflow: (id: Id) => send<Workflow>("POST", `/workflows/${enc(id)}/start`),
  stopWorkflow: (id: Id) => send<Workflow>("POST", `/workflows/${enc(id)}/stop`),

  // models
  listModels: () => json<Model[]>("/models"),
  installModelFile: (file: File) => {
    const form = new FormData();
    form.append("file", file);
    return json<Model>("/models", { method: "POST", body: form });
  },
  /** schemas/models.py ModelUrlIn. Hosts on the local network need the admin's outbound allow-list. */
  installModelUrl: (url: string) => send<Model>("POST", "/models", { url }),
  deleteModel: (name: string, version: string) => send<void>("DELETE", `/models/${enc(name)}/${enc(version)}`),
  loadModel: (name: string, version: string) => send<Model>("POST", `/models/${enc(name)}/${enc(version)}/load`),
  unloadModel: (name: string, version: string) =>
    send<Model>("POST", `/models/${enc(name)}/${enc(version)}/unload`),

  // results
  listResults: (filter: ResultFilter) => json<ResultPage>(`/results${queryString(filter)}`),
  getResult: (id: Id) => json<InferenceResult>(`/results/${enc(id)}`),
  reviewResult: (id: Id, body: ResultReview) => send<InferenceResult>("PATCH", `/results/${enc(id)}`, body),
  resultImage: async (id: Id, kind: ImageKind) =>
    (await request(`/results/${enc(id)}/image${queryString({ kind })}`)).blob(),
  summary: (workflowId?: Id) => json<ResultSummary>(`/results/summary${queryString({ workflow_id: workflowId })}`),
  /** A zip of the matching results (images, masks, a Ground Truth manifest). */
  exportResults: async (filter: ResultFilter) => {
    const response = await request("/results/export", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      // ResultQuery's default limit (50) is a page size; an export wants everything that matches.
      body: JSON.stringify({ limit: EXPORT_LIMIT, ...filter }),
    });
    return response.blob();
  },

  health: () => json<Health>("/health"),
  healthHistory: () => json<HealthHistory>("/health/history"),
};
