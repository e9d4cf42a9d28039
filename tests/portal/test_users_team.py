"""Use-case teams: UseCaseAdmins (and PortalAdmins) add, change and remove members by username."""

from __future__ import annotations

from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness


def test_team_management(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    line = portal.create_usecase(admin, "line")
    other = portal.create_usecase(admin, "other")
    portal.make_user("uca", role=Role.USECASE_ADMIN, usecase_id=line)
    portal.make_user("dana")
    portal.make_user("vic", role=Role.VIEWER, usecase_id=line)
    uca, vic = portal.login("uca"), portal.login("vic")
    client = portal.client
    members = f"/api/v1/usecases/{line}/members"

    added = client.post(members, json={"username": "Dana", "role": "DataScientist"}, headers=uca)
    assert added.status_code == 201, added.text
    assert added.json()["username"] == "dana" and added.json()["role"] == "DataScientist"
    dana = portal.login("dana")
    assert client.get(f"/api/v1/usecases/{line}", headers=dana).json()["my_role"] == "DataScientist"
    assert client.post(members, json={"username": "dana", "role": "Viewer"}, headers=uca).status_code == 409
    assert client.post(members, json={"username": "ghost", "role": "Viewer"}, headers=uca).status_code == 404
    for bad_role in ("PortalAdmin", "Owner", ""):
        assert (
            client.post(members, json={"username": "root", "role": bad_role}, headers=uca).status_code == 422
        )

    listed = client.get(members, headers=uca).json()
    assert [(m["username"], m["role"]) for m in listed] == [
        ("dana", "DataScientist"),
        ("root", "UseCaseAdmin"),  # the creator owns it
        ("uca", "UseCaseAdmin"),
        ("vic", "Viewer"),
    ]
    changed = client.patch(f"{members}/dana", json={"role": "Operator"}, headers=uca)
    assert changed.status_code == 200 and changed.json()["role"] == "Operator"
    # The change takes effect on the member's next request, no new login needed.
    assert client.get(f"/api/v1/usecases/{line}", headers=dana).json()["my_role"] == "Operator"
    assert client.patch(f"{members}/uca", json={"role": "Viewer"}, headers=uca).status_code == 409
    assert client.delete(f"{members}/uca", headers=uca).status_code == 409
    assert client.delete(f"{members}/dana", headers=uca).status_code == 204
    assert client.get(f"/api/v1/usecases/{line}", headers=dana).status_code == 404
    assert client.delete(f"{members}/dana", headers=uca).status_code == 404

    # Viewers see nothing of the team API; other use cases are invisible (404, not 403).
    assert client.get(members, headers=vic).status_code == 403
    assert client.post(members, json={"username": "dana", "role": "Viewer"}, headers=vic).status_code == 403
    assert client.get(f"/api/v1/usecases/{other}/members", headers=uca).status_code == 404
    assert (
        client.post(
            f"/api/v1/usecases/{other}/members", json={"username": "uca", "role": "UseCaseAdmin"}, headers=uca
        ).status_code
        == 404
    )
    # A PortalAdmin manages any team.
    assert (
        client.post(
            f"/api/v1/usecases/{other}/members", json={"username": "uca", "role": "Viewer"}, headers=admin
        ).status_code
        == 201
    )


def test_me_lists_roles_and_permissions(sqlite_portal: PortalHarness) -> None:
    sqlite_portal.make_user("root", admin=True)
    line = sqlite_portal.create_usecase(sqlite_portal.login("root"), "line")
    sqlite_portal.make_user("olga", role=Role.OPERATOR, usecase_id=line)
    me = sqlite_portal.client.get("/api/v1/auth/me", headers=sqlite_portal.login("olga")).json()
    assert me["is_portal_admin"] is False and me["global_permissions"] == []
    [role] = me["roles"]
    assert role["usecase_name"] == "line" and role["role"] == "Operator"
    assert "deployment:write" in role["permissions"] and "training:write" not in role["permissions"]
