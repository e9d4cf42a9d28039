// The labeling API (src/dda/portal/api/labeling.py) and the look-ups its pages need (data folders,
// dataset versions, model versions), typed. Uses the portal session of ./api.
import { allPages, api, queryString, request, type Page } from "./api";
import type { Annotation, TaskType } from "./labeling/doc";

export type LabelingSource = { store_prefix?: string; dataset_version_id?: string; data_folder?: string };
export type LabelingJob = {
  id: string;
  name: string;
  task_type: TaskType;
  labels: string[];
  instructions: string;
  source: LabelingSource;
  labelers: string[]; // user ids
  reviewers: string[];
  status: "open" | "completed" | "cancelled";
  output: { store_prefix?: string; manifest?: string; images?: number; dataset_version_id?: string | null };
  created_at: string;
  completed_at: string | null;
  counts: Record<string, number>;
  per_labeler: Record<string, Record<string, number>>;
};
export type LabelingJobCreate = {
  name: string;
  task_type: TaskType;
  labels: string[];
  instructions?: string;
  source: LabelingSource;
  labelers: string[]; // usernames
  reviewers?: string[];
  prelabel_model?: { version_id: string } | null;
};
export type TaskStatus = "pending" | "assigned" | "submitted" | "sent_back" | "accepted" | "skipped";
export type LabelingTask = {
  id: string;
  job_id: string;
  position: number;
  status: TaskStatus;
  image_url: string;
  annotation: Annotation;
  prelabel: Annotation;
  comment: string;
  assignee_id: string | null;
  reviewer_id: string | null;
  updated_at: string;
};
export type Labeler = { user_id: string; username: string; display_name: string | null; role: string };
export type DataFolder = { name: string; path: string };
export type Dataset = { id: string; name: string; versions: number; latest_version: number | null };
export type DatasetVersion = { id: string; dataset_id: string; number: number; image_count: number };

const enc = (part: string) => encodeURIComponent(part);
const base = (usecaseId: string) => `/usecases/${enc(usecaseId)}/labeling`;

async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  return (await (await request(path, init)).json()) as T;
}
function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  return json<T>(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Task statuses the labeler may still edit. */
export const EDITABLE: TaskStatus[] = ["assigned", "sent_back"];
/** Tasks that count as finished in progress bars. */
export const FINISHED: TaskStatus[] = ["accepted", "skipped"];

export const labelingApi = {
  listJobs: (uc: string) => json<LabelingJob[]>(base(uc)),
  people: (uc: string) => json<Labeler[]>(`${base(uc)}/people`),
  getJob: (uc: string, job: string) => json<LabelingJob>(`${base(uc)}/${enc(job)}`),
  createJob: (uc: string, body: LabelingJobCreate) => send<LabelingJob>("POST", base(uc), body),
  complete: (uc: string, job: string, partial: boolean) =>
    send<LabelingJob>("POST", `${base(uc)}/${enc(job)}/complete`, { partial }),
  /** The job's first `limit` tasks in order (the server's default: 1000). */
  tasks: (uc: string, job: string, filter: { mine?: boolean; status?: TaskStatus; limit?: number } = {}) =>
    json<LabelingTask[]>(
      `${base(uc)}/${enc(job)}/tasks${queryString({ mine: filter.mine ? "true" : undefined, status: filter.status, limit: filter.limit })}`,
    ),
  task: (uc: string, job: string, task: string) => json<LabelingTask>(`${base(uc)}/${enc(job)}/tasks/${enc(task)}`),
  claimNext: (uc: string, job: string) => send<LabelingTask | null>("POST", `${base(uc)}/${enc(job)}/tasks/next`),
  saveDraft: (uc: string, job: string, task: string, annotation: Annotation) =>
    send<LabelingTask>("PUT", `${base(uc)}/${enc(job)}/tasks/${enc(task)}/draft`, { annotation }),
  submit: (uc: string, job: string, task: string, annotation: Annotation) =>
    send<LabelingTask>("POST", `${base(uc)}/${enc(job)}/tasks/${enc(task)}/submit`, { annotation }),
  skip: (uc: string, job: string, task: string) => send<LabelingTask>("POST", `${base(uc)}/${enc(job)}/tasks/${enc(task)}/skip`),
  reviewNext: (uc: string, job: string) => send<LabelingTask | null>("POST", `${base(uc)}/${enc(job)}/reviews/next`),
  review: (uc: string, job: string, task: string, accept: boolean, comment: string) =>
    send<LabelingTask>("POST", `${base(uc)}/${enc(job)}/tasks/${enc(task)}/review`, { accept, comment }),
  /** The task's image, fetched with the session (an <img src> would carry no token). */
  image: async (imageUrl: string) => (await request(imageUrl.replace(/^\/api\/v1/, ""))).blob(),

  // look-ups for the create form
  dataFolders: async (uc: string): Promise<DataFolder[]> => {
    type Browse = { folder: string; folders: DataFolder[]; images: unknown[] };
    const browse = (folder: string) => json<Browse>(`/usecases/${enc(uc)}/data/browse${queryString({ folder, limit: 200 })}`);
    const root = await browse("");
    const nested = await Promise.all(root.folders.slice(0, 20).map((f) => browse(f.path).then((b) => b.folders)));
    const all = [...root.folders, ...nested.flat()];
    return all.sort((a, b) => a.path.localeCompare(b.path));
  },
  datasetVersions: async (uc: string): Promise<{ dataset: Dataset; version: DatasetVersion }[]> => {
    const datasets = await allPages((cursor) => json<Page<Dataset>>(`/usecases/${enc(uc)}/datasets${queryString({ cursor })}`), 5);
    const out = await Promise.all(
      datasets.slice(0, 30).map(async (dataset) => {
        const versions = await json<Page<DatasetVersion>>(`/usecases/${enc(uc)}/datasets/${enc(dataset.id)}/versions`);
        return versions.items.map((version) => ({ dataset, version }));
      }),
    );
    return out.flat();
  },
  modelVersions: async (uc: string) => {
    const models = await api.listModels(uc);
    const out = await Promise.all(models.slice(0, 30).map((m) => api.listVersions(uc, m.id)));
    return out.flat();
  },
};
