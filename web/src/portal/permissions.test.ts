import { describe, expect, it } from "vitest";
import type { Me } from "./api";
import { NAV_PAGES, P, can, canGlobal, roleIn } from "./permissions";

const OPERATOR = ["deployment:view", "deployment:write", "device:manage", "device:view", "usecase:view"];

function user(roles: Me["roles"], admin = false): Me {
  return {
    id: "u1",
    username: "someone",
    email: null,
    display_name: null,
    is_portal_admin: admin,
    roles,
    global_permissions: admin ? Object.values(P) : [],
  };
}

const operator = user([{ usecase_id: "uc1", usecase_name: "Cookies", role: "Operator", permissions: OPERATOR }]);

describe("can", () => {
  it("decides by the role in the named use case", () => {
    expect(can(operator, "uc1", P.DEPLOYMENT_WRITE)).toBe(true);
    expect(can(operator, "uc1", P.TEAM_MANAGE)).toBe(false);
  });
  it("denies in a use case where the user has no role, and with no use case", () => {
    expect(can(operator, "uc2", P.DEVICE_VIEW)).toBe(false);
    expect(can(operator, null, P.DEVICE_VIEW)).toBe(false);
    expect(can(undefined, "uc1", P.DEVICE_VIEW)).toBe(false);
  });
  it("lets a PortalAdmin do everything everywhere", () => {
    const admin = user([], true);
    expect(can(admin, "any", P.TEAM_MANAGE)).toBe(true);
    expect(canGlobal(admin, P.USERS_MANAGE)).toBe(true);
    expect(roleIn(admin, "any")).toBe("PortalAdmin");
  });
  it("gives no global permission to a use-case role", () => {
    expect(canGlobal(operator, P.USERS_MANAGE)).toBe(false);
    expect(canGlobal(operator, P.USECASE_CREATE)).toBe(false);
    expect(roleIn(operator, "uc1")).toBe("Operator");
    expect(roleIn(operator, "uc2")).toBeNull();
  });
});

describe("NAV_PAGES", () => {
  const visible = (me: Me, uc: string | null) => NAV_PAGES.filter((p) => p.visible(me, uc)).map((p) => p.path);
  it("hides team and audit from an Operator", () => {
    expect(visible(operator, "uc1")).toEqual(["/dashboard", "/usecases", "/devices", "/deployments", "/settings"]);
  });
  it("shows every page to a PortalAdmin", () => {
    expect(visible(user([], true), "uc1")).toHaveLength(NAV_PAGES.length);
  });
});
