// The portal REST API (src/dda/portal/api), typed. Every call the portal UI makes goes through here.
// Shares the error type and helpers of the station client (../api); the tokens are the portal's own.
import { ApiError, errorMessage, queryString } from "../api";

export { ApiError, queryString };

const API = "/api/v1";
const ACCESS_KEY = "dda.portal.access";
const REFRESH_KEY = "dda.portal.refresh";

// ---------- types mirroring src/dda/portal/schemas ----------

export type Page<T> = { items: T[]; next_cursor: string | null };

export type TokenResponse = {
  access_token: string;
  token_type: string;
  expires_at: string;
  refresh_token: string;
  refresh_expires_at: string;
};
export type UseCaseRole = { usecase_id: string; usecase_name: string; role: string; permissions: string[] };
export type Me = {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  is_portal_admin: boolean;
  roles: UseCaseRole[];
  global_permissions: string[];
};

export type ModelType = "classification" | "segmentation" | "anomaly";
export type UseCaseSettings = {
  default_model_type: ModelType;
  auto_pipeline: boolean;
  auto_pipeline_targets: string[];
  auto_pipeline_int8: boolean;
  result_retention_days: number;
  storage_quota_mb: number;
};
export type UseCase = {
  id: string;
  name: string;
  description: string;
  cost_center: string;
  owner_id: string | null;
  storage: string;
  onboarding_status: string;
  onboarding_error: string | null;
  settings: UseCaseSettings;
  bytes_used: number;
  created_at: string;
  my_role: string | null;
};
export type UseCaseCreate = {
  name: string;
  description?: string;
  cost_center?: string;
  owner_username?: string | null;
};

export type User = {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  is_portal_admin: boolean;
  disabled: boolean;
  has_password: boolean;
  oidc_linked: boolean;
  created_at: string;
  password_changed_at: string | null;
};
export type UserCreate = {
  username: string;
  password?: string;
  email?: string | null;
  display_name?: string | null;
  is_portal_admin?: boolean;
};
export type UserUpdate = { email?: string; display_name?: string; disabled?: boolean; is_portal_admin?: boolean };

export const USECASE_ROLES = ["UseCaseAdmin", "DataScientist", "Operator", "Viewer"] as const;
export type UseCaseRoleName = (typeof USECASE_ROLES)[number];
export type Member = {
  user_id: string;
  username: string;
  display_name: string | null;
  role: string;
  disabled: boolean;
  since: string;
};

export type AuditEvent = {
  seq: number;
  at: string;
  actor_id: string | null;
  actor_name: string;
  role: string;
  usecase_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  outcome: string;
  status_code: number;
  request_id: string;
  client_address: string;
  summary: Record<string, unknown>;
};
export type AuditFilter = {
  user?: string;
  action?: string;
  outcome?: "success" | "failure" | "denied";
  since?: string;
  until?: string;
};

// fleet (schemas/fleet.py)
export type Device = {
  id: string;
  name: string;
  group: string;
  tags: string[];
  status: string;
  last_seen_at: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  facts: Record<string, unknown>;
  last_heartbeat: Record<string, unknown>;
  applied_etag: string | null;
};
export type DeviceFilter = { group?: string; tag?: string; q?: string };
export type HeartbeatPoint = { at: string; metrics: Record<string, unknown> };
export type DeviceLogs = { requested: boolean; lines: unknown[]; received_at: string | null };
export type EnrollmentTokenCreate = { device_name?: string; group?: string; tags?: string[]; ttl_s?: number };
export type EnrollmentToken = { id: string; token: string; expires_at: string; command: string };

export type TargetKind = "device" | "group" | "tag";
export type DeploymentCreate = {
  name: string;
  target: { kind: TargetKind; value: string };
  packages: string[];
  config?: Record<string, unknown>;
  waves: string[];
  soak_s: number;
  failure_threshold: number;
};
export type DeploymentDevice = {
  device_id: string;
  device_name: string;
  wave: number;
  phase: string;
  progress_pct: number;
  reason: string | null;
  rolled_back_by_portal: boolean;
  updated_at: string;
};
export type Deployment = {
  id: string;
  name: string;
  target_kind: string;
  target_value: string;
  items: unknown[];
  waves: string[];
  released_wave: number;
  soak_s: number;
  failure_threshold: number;
  status: string;
  status_reason: string | null;
  rollback_of: string | null;
  created_at: string;
  finished_at: string | null;
  devices: DeploymentDevice[];
};

// model registry (the packages a deployment ships)
export type ModelSummary = { id: string; name: string; model_type: string };
export type ModelVersion = { id: string; model_id: string; model_name: string; version: number; stage: string };
export type ModelPackage = { id: string; version_id: string; target: string; precision: string; package_key: string };

// ---------- session tokens ----------

export function getAccessToken(): string | null {
  return localStorage.getItem(ACCESS_KEY);
}
export function setTokens(tokens: TokenResponse | null): void {
  if (tokens) {
    localStorage.setItem(ACCESS_KEY, tokens.access_token);
    localStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  } else {
    localStorage.removeItem(ACCESS_KEY);
    localStorage.removeItem(REFRESH_KEY);
  }
}

let unauthorizedHandler: (() => void) | null = null;
/** Called when the API answers 401 and the refresh token cannot renew the session. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

let refreshing: Promise<boolean> | null = null;
/** Renew the access token once (concurrent callers share one refresh). */
async function refreshSession(): Promise<boolean> {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return false;
  refreshing ??= (async () => {
    try {
      const response = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!response.ok) return false;
      setTokens((await response.json()) as TokenResponse);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function withAuth(init: RequestInit): RequestInit {
  const token = getAccessToken();
  const headers = { ...(init.headers as Record<string, string> | undefined) };
  if (token) headers.Authorization = `Bearer ${token}`;
  return { ...init, headers };
}

/** fetch `path` under /api/v1 with the session; a 401 renews the session once and retries. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let response = await fetch(`${API}${path}`, withAuth(init));
  const isAuthCall = path.startsWith("/auth/login") || path.startsWith("/auth/refresh");
  if (response.status === 401 && !isAuthCall && (await refreshSession())) {
    response = await fetch(`${API}${path}`, withAuth(init));
  }
  if (response.ok) return response;
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401 && !isAuthCall && unauthorizedHandler) unauthorizedHandler();
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

/** Every item of a keyset-paged list (follows next_cursor; stops after `maxPages`). */
export async function allPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  maxPages = 20,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i += 1) {
    const page = await fetchPage(cursor);
    items.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return items;
}

const enc = (part: string | number) => encodeURIComponent(String(part));
const uc = (id: string) => `/usecases/${enc(id)}`;

// ---------- endpoints ----------

export const api = {
  login: async (username: string, password: string) => {
    const tokens = await send<TokenResponse>("POST", "/auth/login", { username, password });
    setTokens(tokens);
    return tokens;
  },
  logout: async () => {
    const refreshToken = localStorage.getItem(REFRESH_KEY);
    try {
      await send<void>("POST", "/auth/logout", { refresh_token: refreshToken });
    } finally {
      setTokens(null);
    }
  },
  me: () => json<Me>("/auth/me"),

  // use cases
  listUseCases: () => allPages((cursor) => json<Page<UseCase>>(`/usecases${queryString({ cursor })}`)),
  getUseCase: (id: string) => json<UseCase>(uc(id)),
  createUseCase: (body: UseCaseCreate) => send<UseCase>("POST", "/usecases", body),
  updateUseCase: (id: string, body: { description?: string; cost_center?: string }) =>
    send<UseCase>("PATCH", uc(id), body),
  updateSettings: (id: string, body: Partial<UseCaseSettings>) =>
    send<UseCaseSettings>("PATCH", `${uc(id)}/settings`, body),
  reonboard: (id: string) => send<UseCase>("POST", `${uc(id)}/onboard`),

  // users (PortalAdmin)
  listUsers: () => allPages((cursor) => json<Page<User>>(`/users${queryString({ cursor })}`)),
  createUser: (body: UserCreate) => send<User>("POST", "/users", body),
  updateUser: (username: string, body: UserUpdate) => send<User>("PATCH", `/users/${enc(username)}`, body),
  resetPassword: (username: string, newPassword: string) =>
    send<void>("POST", `/users/${enc(username)}/password`, { new_password: newPassword }),

  // team of a use case
  listMembers: (id: string) => json<Member[]>(`${uc(id)}/members`),
  addMember: (id: string, username: string, role: UseCaseRoleName) =>
    send<Member>("POST", `${uc(id)}/members`, { username, role }),
  changeMember: (id: string, username: string, role: UseCaseRoleName) =>
    send<Member>("PATCH", `${uc(id)}/members/${enc(username)}`, { role }),
  removeMember: (id: string, username: string) => send<void>("DELETE", `${uc(id)}/members/${enc(username)}`),

  // audit
  auditPath: (usecaseId: string | null, filter: AuditFilter, cursor?: string, exportCsv = false) =>
    `${usecaseId ? `${uc(usecaseId)}/audit` : "/audit"}${exportCsv ? "/export" : ""}${queryString({ ...filter, cursor })}`,
  audit: (usecaseId: string | null, filter: AuditFilter, cursor?: string) =>
    json<Page<AuditEvent>>(api.auditPath(usecaseId, filter, cursor)),
  auditCsv: async (usecaseId: string | null, filter: AuditFilter) =>
    (await request(api.auditPath(usecaseId, filter, undefined, true))).blob(),

  // devices
  listDevices: (id: string, filter: DeviceFilter = {}) =>
    allPages((cursor) => json<Page<Device>>(`${uc(id)}/devices${queryString({ ...filter, cursor })}`)),
  getDevice: (id: string, deviceId: string) => json<Device>(`${uc(id)}/devices/${enc(deviceId)}`),
  heartbeats: (id: string, deviceId: string, limit = 240) =>
    json<HeartbeatPoint[]>(`${uc(id)}/devices/${enc(deviceId)}/heartbeats${queryString({ limit })}`),
  requestLogs: (id: string, deviceId: string) => send<DeviceLogs>("POST", `${uc(id)}/devices/${enc(deviceId)}/logs/request`),
  deviceLogs: (id: string, deviceId: string) => json<DeviceLogs>(`${uc(id)}/devices/${enc(deviceId)}/logs`),
  revokeDevice: (id: string, deviceId: string) => send<Device>("POST", `${uc(id)}/devices/${enc(deviceId)}/revoke`),
  createEnrollmentToken: (id: string, body: EnrollmentTokenCreate) =>
    send<EnrollmentToken>("POST", `${uc(id)}/devices/enrollment-tokens`, body),

  // deployments
  listDeployments: (id: string) => allPages((cursor) => json<Page<Deployment>>(`${uc(id)}/deployments${queryString({ cursor })}`), 5),
  getDeployment: (id: string, deploymentId: string) => json<Deployment>(`${uc(id)}/deployments/${enc(deploymentId)}`),
  createDeployment: (id: string, body: DeploymentCreate) => send<Deployment>("POST", `${uc(id)}/deployments`, body),
  cancelDeployment: (id: string, deploymentId: string) =>
    send<Deployment>("POST", `${uc(id)}/deployments/${enc(deploymentId)}/cancel`),
  rollbackDeployment: (id: string, deploymentId: string) =>
    send<Deployment>("POST", `${uc(id)}/deployments/${enc(deploymentId)}/rollback`),

  // model registry: the packages a deployment can ship
  listModels: (id: string) => allPages((cursor) => json<Page<ModelSummary>>(`${uc(id)}/models${queryString({ cursor })}`), 5),
  listVersions: (id: string, modelId: string) =>
    allPages((cursor) => json<Page<ModelVersion>>(`${uc(id)}/models/${enc(modelId)}/versions${queryString({ cursor })}`), 5),
  listPackages: (id: string, versionId: string) =>
    json<ModelPackage[]>(`${uc(id)}/models/versions/${enc(versionId)}/packages`),
};
