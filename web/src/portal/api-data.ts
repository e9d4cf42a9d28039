// The portal REST API for data, datasets and settings (src/dda/portal/api/data*.py, datasets.py,
// dataset_sources.py, tokens.py, components.py signing keys), typed. Uploads go through
// XMLHttpRequest, the one browser API that reports upload progress.
import { ApiError, allPages, getAccessToken, queryString, request, type Page } from "./api";
import { errorMessage } from "../api";

// ---------- types mirroring src/dda/portal/schemas ----------

export type FileOutcome = {
  name: string;
  status: "stored" | "duplicate" | "exists" | "rejected";
  entry_id?: string | null;
  path?: string | null;
  size?: number | null;
  width?: number | null;
  height?: number | null;
  duplicate_of?: string | null;
  code?: string | null;
  error?: string | null;
  hint?: string | null;
};
export type BatchOut = { counts: Record<string, number>; items: FileOutcome[] };
export type ImageInfo = {
  id: string;
  name: string;
  folder: string;
  sha256: string;
  size: number;
  format: string;
  width: number;
  height: number;
  created_at: string;
  thumbnail_url: string;
};
export type Folder = { name: string; path: string };
export type BrowsePage = { folder: string; folders: Folder[]; images: ImageInfo[]; next_cursor: string | null };
export type UploadSession = { id: string; offset: number; size: number; chunk_size: number; status: string };
export type DataLocation = {
  id: string;
  name: string;
  description: string;
  storage: string;
  status: string;
  status_error: string | null;
  read_only: boolean;
};

export type Dataset = {
  id: string;
  name: string;
  description: string;
  versions: number;
  latest_version: number | null;
  created_at: string;
};
export type SplitName = "train" | "val" | "test";
export type VersionStats = {
  images?: number;
  classes?: Record<string, number>;
  splits?: Partial<Record<SplitName, Record<string, number>>>;
  sizes?: { min_width: number; max_width: number; min_height: number; max_height: number };
  masks?: { images_with_mask: number; pixels_per_class: Record<string, number> };
  boxes?: { total: number; per_class: Record<string, number> };
};
export type Problem = { line?: number; severity?: string; message: string; fix?: string };
export type DatasetVersion = {
  id: string;
  dataset_id: string;
  number: number;
  source: string;
  label_format: string;
  image_count: number;
  classes: { class_names?: string[]; mask_class_names?: string[]; box_class_names?: string[] };
  stats: VersionStats;
  split: { seed?: number; fractions?: Record<SplitName, number>; counts?: Partial<Record<SplitName, number>> };
  report: { ok?: boolean; summary?: string; errors?: number; warnings?: number; problems?: Problem[] };
  created_at: string;
};
export type Split = { seed: number; train: number; val: number; test: number };
export type LabelFormat = "gt" | "dda" | "coco" | "yolo";
export type ExportFormat = "gt" | "dda" | "coco" | "yolo";
export type LabelingJobSummary = {
  id: string;
  name: string;
  task_type: string;
  status: string;
  output: { dataset_version_id?: string | null; images?: number };
  completed_at: string | null;
};

export type ApiToken = {
  id: string;
  name: string;
  usecase_id: string;
  role: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
};
export type ApiTokenCreated = ApiToken & { token: string };
export type SigningKey = { fingerprint: string; public_pem: string; active: boolean; created_at: string; retired_at: string | null };

const enc = (part: string | number) => encodeURIComponent(String(part));
const uc = (id: string) => `/usecases/${enc(id)}`;

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

// ---------- uploads with progress ----------

export type Progress = (sentBytes: number, totalBytes: number) => void;

function xhrOnce(method: string, path: string, body: XMLHttpRequestBodyInit, headers: Record<string, string>, onProgress: Progress): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, `/api/v1${path}`);
    const token = getAccessToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : e.loaded);
    xhr.onload = () => {
      let parsed: unknown = null;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        parsed = null;
      }
      resolve({ status: xhr.status, body: parsed });
    };
    xhr.onerror = () => reject(new ApiError(0, "the portal did not answer", "check the network, then retry"));
    xhr.send(body);
  });
}

/** An XHR with the session; a 401 renews the session once (through `request`) and retries. */
async function xhr(method: string, path: string, body: XMLHttpRequestBodyInit, headers: Record<string, string>, onProgress: Progress): Promise<{ status: number; body: unknown }> {
  let answer = await xhrOnce(method, path, body, headers, onProgress);
  if (answer.status === 401) {
    await request("/auth/me"); // renews the access token, or throws (and signs out)
    answer = await xhrOnce(method, path, body, headers, onProgress);
  }
  return answer;
}

function failure(answer: { status: number; body: unknown }): ApiError {
  const { message, hint } = errorMessage(answer.body, `HTTP ${answer.status}`);
  return new ApiError(answer.status, message, hint);
}

/** The labels were refused; `report` lists each problem (line, message, fix) when the server sent one. */
export class LabelsRejected extends ApiError {
  constructor(
    cause: ApiError,
    readonly report: DatasetVersion["report"] | null,
  ) {
    super(cause.status, cause.message, cause.hint);
  }
}

/** Files larger than this go through the resumable upload API, chunk by chunk. */
export const RESUMABLE_FROM_BYTES = 16 * 1024 * 1024;

async function uploadSmall(usecaseId: string, folder: string, file: File, onProgress: Progress): Promise<FileOutcome[]> {
  const form = new FormData();
  form.append("files", file, file.name);
  const answer = await xhr("POST", `${uc(usecaseId)}/data/images${queryString({ folder })}`, form, {}, onProgress);
  const batch = answer.body as BatchOut | null;
  if (batch && Array.isArray(batch.items)) return batch.items; // 201 / 200 / 422 / 507 carry per-file outcomes
  throw failure(answer);
}

async function uploadResumable(usecaseId: string, folder: string, file: File, onProgress: Progress): Promise<FileOutcome[]> {
  const base = `${uc(usecaseId)}/data/uploads`;
  const session = await send<UploadSession>("POST", base, { folder, name: file.name, size: file.size });
  let offset = session.offset;
  while (offset < file.size) {
    const chunk = file.slice(offset, offset + session.chunk_size);
    const start = offset;
    const answer = await xhr("PATCH", `${base}/${enc(session.id)}`, chunk, { "Upload-Offset": String(start), "Content-Type": "application/octet-stream" }, (sent) => onProgress(start + sent, file.size));
    if (answer.status !== 200) throw failure(answer);
    offset = (answer.body as { offset: number }).offset;
  }
  const batch = await xhr("POST", `${base}/${enc(session.id)}/finish`, "", {}, () => undefined);
  const body = batch.body as BatchOut | null;
  if (body && Array.isArray(body.items)) return body.items;
  throw failure(batch);
}

/** Upload one file (an image or an archive of images) into `folder`; per-file outcomes come back. */
export function uploadFile(usecaseId: string, folder: string, file: File, onProgress: Progress): Promise<FileOutcome[]> {
  return file.size >= RESUMABLE_FROM_BYTES ? uploadResumable(usecaseId, folder, file, onProgress) : uploadSmall(usecaseId, folder, file, onProgress);
}

// ---------- endpoints ----------

export type VersionSource =
  | { kind: "labels"; file: File; format: LabelFormat; imagesFolder: string; maps: Record<string, string> }
  | { kind: "folders"; classes: { class_name: string; folder: string }[] }
  | { kind: "version"; versionId: string };

export const dataApi = {
  // data tree
  browse: (id: string, folder: string, cursor?: string, limit = 60) =>
    json<BrowsePage>(`${uc(id)}/data/browse${queryString({ folder, cursor, limit })}`),
  thumbnail: async (id: string, entryId: string) => (await request(`${uc(id)}/data/images/${enc(entryId)}/thumbnail`)).blob(),
  content: async (id: string, entryId: string) => (await request(`${uc(id)}/data/images/${enc(entryId)}/content`)).blob(),
  deleteImage: (id: string, entryId: string) => send<void>("DELETE", `${uc(id)}/data/images/${enc(entryId)}`),
  locations: (id: string) => json<Page<DataLocation>>(`${uc(id)}/data-locations`).then((p) => p.items),
  importFromLocation: (id: string, locationId: string, prefix: string, folder: string) =>
    send<BatchOut>("POST", `${uc(id)}/data/import/s3`, { data_location_id: locationId, prefix, folder }),

  // datasets
  listDatasets: (id: string) => allPages((cursor) => json<Page<Dataset>>(`${uc(id)}/datasets${queryString({ cursor })}`), 10),
  createDataset: (id: string, name: string, description = "") => send<Dataset>("POST", `${uc(id)}/datasets`, { name, description }),
  listVersions: (id: string, datasetId: string) =>
    allPages((cursor) => json<Page<DatasetVersion>>(`${uc(id)}/datasets/${enc(datasetId)}/versions${queryString({ cursor })}`), 5),
  getVersion: (id: string, datasetId: string, versionId: string) =>
    json<DatasetVersion>(`${uc(id)}/datasets/${enc(datasetId)}/versions/${enc(versionId)}`),
  createVersion: (id: string, datasetId: string, source: VersionSource, split: Split): Promise<DatasetVersion> => {
    const base = `${uc(id)}/datasets/${enc(datasetId)}/versions`;
    if (source.kind === "folders") return send("POST", `${base}/from-folders`, { classes: source.classes, split });
    if (source.kind === "version") return send("POST", `${base}/from-version`, { version_id: source.versionId, split });
    const form = new FormData();
    form.append("labels", source.file, source.file.name);
    form.append("format", source.format);
    form.append("images_folder", source.imagesFolder);
    for (const [prefix, folder] of Object.entries(source.maps)) form.append("map", `${prefix}=${folder}`);
    for (const key of ["seed", "train", "val", "test"] as const) form.append(key, String(split[key]));
    return xhr("POST", base, form, {}, () => undefined).then((answer) => {
      if (answer.status === 201) return answer.body as DatasetVersion;
      const report = (answer.body as { report?: DatasetVersion["report"] } | null)?.report;
      throw new LabelsRejected(failure(answer), report ?? null);
    });
  },
  exportVersion: async (id: string, datasetId: string, versionId: string, format: ExportFormat) =>
    (await request(`${uc(id)}/datasets/${enc(datasetId)}/versions/${enc(versionId)}/export${queryString({ format })}`)).blob(),
  labelingJobs: (id: string) => json<LabelingJobSummary[]>(`${uc(id)}/labeling`),

  // account and settings
  changePassword: async (current: string, next: string): Promise<void> => {
    // A wrong current password answers 401: sent past `request`, whose 401 handling would sign
    // the user out. `request("/auth/me")` first renews an expired access token.
    await request("/auth/me");
    const response = await fetch("/api/v1/auth/password", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${getAccessToken() ?? ""}` },
      body: JSON.stringify({ current_password: current, new_password: next }),
    });
    if (response.ok) return;
    const { message, hint } = errorMessage(await response.json().catch(() => null), `HTTP ${response.status}`);
    throw new ApiError(response.status, message, hint);
  },
  listTokens: (usecaseId?: string) => json<ApiToken[]>(`/auth/tokens${queryString({ usecase_id: usecaseId })}`),
  createToken: (id: string, name: string, role: string, expiresInDays: number) =>
    send<ApiTokenCreated>("POST", `${uc(id)}/tokens`, { name, role, expires_in_days: expiresInDays }),
  revokeToken: (tokenId: string) => send<void>("DELETE", `/auth/tokens/${enc(tokenId)}`),
  signingKeys: (id: string) => json<SigningKey[]>(`${uc(id)}/signing-keys`),
};

/** Save a blob as a download named `filename`. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
