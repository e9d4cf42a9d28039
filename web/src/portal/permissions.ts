// Role-aware UI: what the signed-in user may do, from GET /api/v1/auth/me. The UI hides or disables
// what the role may not do; the server still enforces every permission.
import type { Me } from "./api";

/** Permission names of src/dda/portal/permissions.py that the UI asks about. */
export const P = {
  USECASE_CREATE: "usecase:create",
  USERS_MANAGE: "users:manage",
  AUDIT_VIEW_ALL: "audit:view_all",
  USECASE_UPDATE: "usecase:update",
  TEAM_VIEW: "team:view",
  TEAM_MANAGE: "team:manage",
  AUDIT_VIEW: "audit:view",
  DEVICE_VIEW: "device:view",
  DEVICE_MANAGE: "device:manage",
  DEPLOYMENT_VIEW: "deployment:view",
  DEPLOYMENT_WRITE: "deployment:write",
  MODEL_VIEW: "model:view",
  LABELING_WRITE: "labeling:write",
  LABELING_WORK: "labeling:work",
  USECASE_VIEW: "usecase:view",
  DATA_VIEW: "data:view",
  DATA_WRITE: "data:write",
  DATASET_VIEW: "dataset:view",
  DATASET_WRITE: "dataset:write",
  LABELING_VIEW: "labeling:view",
  TOKEN_MANAGE: "token:manage",
  MODEL_WRITE: "model:write",
  TRAINING_VIEW: "training:view",
  TRAINING_WRITE: "training:write",
  COMPONENT_VIEW: "component:view",
  COMPONENT_WRITE: "component:write",
} as const;
export type PermissionName = (typeof P)[keyof typeof P];

/** A global permission (PortalAdmin). */
export function canGlobal(me: Me | undefined, permission: PermissionName): boolean {
  return !!me && me.global_permissions.includes(permission);
}

/** A permission in one use case: PortalAdmin holds every one, others by their role there. */
export function can(me: Me | undefined, usecaseId: string | null | undefined, permission: PermissionName): boolean {
  if (!me) return false;
  if (me.global_permissions.includes(permission)) return true;
  if (!usecaseId) return false;
  const role = me.roles.find((r) => r.usecase_id === usecaseId);
  return !!role && role.permissions.includes(permission);
}

/** The caller's role in a use case as shown to them ("PortalAdmin" wins). */
export function roleIn(me: Me | undefined, usecaseId: string | null | undefined): string | null {
  if (!me) return null;
  if (me.is_portal_admin) return "PortalAdmin";
  return me.roles.find((r) => r.usecase_id === usecaseId)?.role ?? null;
}

/** Navigation entries, shown only when the caller may open the page. */
export type NavPage = { path: string; title: string; visible: (me: Me | undefined, usecaseId: string | null) => boolean };
export const NAV_PAGES: NavPage[] = [
  { path: "/dashboard", title: "Dashboard", visible: () => true },
  { path: "/usecases", title: "Use cases", visible: () => true },
  {
    path: "/team",
    title: "Users and roles",
    visible: (me, uc) => canGlobal(me, P.USERS_MANAGE) || can(me, uc, P.TEAM_VIEW),
  },
  { path: "/data", title: "Data management", visible: (me, uc) => can(me, uc, P.DATA_VIEW) },
  { path: "/labeling", title: "Labeling", visible: (me, uc) => can(me, uc, P.LABELING_VIEW) },
  { path: "/datasets", title: "Datasets", visible: (me, uc) => can(me, uc, P.DATASET_VIEW) },
  { path: "/training", title: "Training", visible: (me, uc) => can(me, uc, P.TRAINING_VIEW) },
  { path: "/models", title: "Models", visible: (me, uc) => can(me, uc, P.MODEL_VIEW) },
  { path: "/compilation", title: "Compilation and packaging", visible: (me, uc) => can(me, uc, P.TRAINING_VIEW) },
  { path: "/components", title: "Components", visible: (me, uc) => can(me, uc, P.COMPONENT_VIEW) },
  { path: "/devices", title: "Devices", visible: (me, uc) => can(me, uc, P.DEVICE_VIEW) },
  { path: "/deployments", title: "Deployments", visible: (me, uc) => can(me, uc, P.DEPLOYMENT_VIEW) },
  {
    path: "/audit",
    title: "Audit log",
    visible: (me, uc) => canGlobal(me, P.AUDIT_VIEW_ALL) || can(me, uc, P.AUDIT_VIEW),
  },
  { path: "/settings", title: "Settings", visible: () => true },
];
