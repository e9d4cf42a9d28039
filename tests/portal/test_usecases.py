"""Use cases on the default store: visibility, settings per use case, shared data locations."""

from __future__ import annotations

from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness


def test_members_see_their_usecases_and_admins_all(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    ids = [portal.create_usecase(admin, name) for name in ("alpha", "beta", "gamma")]
    portal.make_user("vera", role=Role.VIEWER, usecase_id=ids[1])
    portal.grant("vera", ids[2], Role.OPERATOR)
    portal.make_user("nobody")
    vera, nobody = portal.login("vera"), portal.login("nobody")

    def names(headers: dict[str, str]) -> list[tuple[str, str | None]]:
        items = portal.client.get("/api/v1/usecases", headers=headers).json()["items"]
        return [(u["name"], u["my_role"]) for u in items]

    assert names(admin) == [("alpha", "PortalAdmin"), ("beta", "PortalAdmin"), ("gamma", "PortalAdmin")]
    assert names(vera) == [("beta", "Viewer"), ("gamma", "Operator")]
    assert names(nobody) == []
    page = portal.client.get("/api/v1/usecases?limit=2", headers=admin).json()
    rest = portal.client.get(f"/api/v1/usecases?limit=2&cursor={page['next_cursor']}", headers=admin).json()
    assert [u["name"] for u in page["items"] + rest["items"]] == ["alpha", "beta", "gamma"]
    assert rest["next_cursor"] is None


def test_settings_readable_by_members_editable_by_usecase_admin(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "tuned", settings={"result_retention_days": 30})
    portal.make_user("vic", role=Role.VIEWER, usecase_id=usecase_id)
    portal.make_user("uca", role=Role.USECASE_ADMIN, usecase_id=usecase_id)
    viewer, owner = portal.login("vic"), portal.login("uca")
    url = f"/api/v1/usecases/{usecase_id}/settings"
    read = portal.client.get(url, headers=viewer)
    assert read.status_code == 200
    assert read.json() == {
        "default_model_type": "classification",
        "auto_pipeline": False,
        "auto_pipeline_targets": ["x86_64-cpu"],
        "auto_pipeline_int8": False,
        "result_retention_days": 30,
        "storage_quota_mb": 50_000,
    }
    assert portal.client.patch(url, json={"auto_pipeline": True}, headers=viewer).status_code == 403
    change = {
        "auto_pipeline": True,
        "auto_pipeline_targets": ["arm64-cpu", "openvino"],
        "storage_quota_mb": 10,
    }
    changed = portal.client.patch(url, json=change, headers=owner)
    assert changed.status_code == 200, changed.text
    assert changed.json()["auto_pipeline_targets"] == ["arm64-cpu", "openvino"]
    assert changed.json()["result_retention_days"] == 30  # untouched fields keep their value
    for bad in ({"auto_pipeline_targets": ["pdp-11"]}, {"storage_quota_mb": 0}, {"unknown": 1}):
        assert portal.client.patch(url, json=bad, headers=owner).status_code == 422
    assert portal.client.get(url, headers=viewer).json()["storage_quota_mb"] == 10


def test_data_locations_admin_crud_attach_and_member_listing(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "reader")
    other_id = portal.create_usecase(admin, "elsewhere")
    portal.make_user("dora", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    dora = portal.login("dora")
    created = portal.client.post("/api/v1/data-locations", json={"name": "golden-set"}, headers=admin)
    assert created.status_code == 201, created.text
    location = created.json()
    assert location["status"] == "ready" and location["storage"].startswith("default store: data-locations/")
    assert (
        portal.client.post("/api/v1/data-locations", json={"name": "golden-set"}, headers=admin).status_code
        == 409
    )
    assert portal.client.get("/api/v1/data-locations", headers=dora).status_code == 403
    attached_url = f"/api/v1/usecases/{usecase_id}/data-locations"
    assert portal.client.put(f"{attached_url}/{location['id']}", headers=dora).status_code == 403
    assert portal.client.put(f"{attached_url}/{location['id']}", headers=admin).status_code == 200
    assert (
        portal.client.put(f"{attached_url}/{location['id']}", headers=admin).status_code == 200
    )  # idempotent
    listed = portal.client.get(attached_url, headers=dora).json()["items"]
    assert [(i["name"], i["read_only"]) for i in listed] == [("golden-set", True)]
    other_list = portal.client.get(f"/api/v1/usecases/{other_id}/data-locations", headers=dora)
    assert other_list.status_code == 404  # not her use case: no existence leak
    renamed = portal.client.patch(
        f"/api/v1/data-locations/{location['id']}", json={"description": "reviewed images"}, headers=admin
    )
    assert renamed.json()["description"] == "reviewed images"
    assert portal.client.delete(f"{attached_url}/{location['id']}", headers=admin).status_code == 204
    assert portal.client.delete(f"{attached_url}/{location['id']}", headers=admin).status_code == 404
    assert portal.client.get(attached_url, headers=dora).json()["items"] == []
    assert portal.client.delete(f"/api/v1/data-locations/{location['id']}", headers=admin).status_code == 204
    assert portal.client.get(f"/api/v1/data-locations/{location['id']}", headers=admin).status_code == 404


def test_bad_storage_prefixes_and_stale_settings(sqlite_portal: PortalHarness) -> None:
    portal = sqlite_portal
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    for prefix in ("../other-tenant", "a/../../b", "x\\..\\y", "a/./b"):
        body = {"name": "bad", "s3": {"bucket": "some-bucket", "prefix": prefix}}
        response = portal.client.post("/api/v1/usecases", json=body, headers=admin)
        assert response.status_code == 422, (prefix, response.text)
    usecase_id = portal.create_usecase(admin, "old")
    from dda.portal.db import UseCase

    with portal.portal.session() as session:  # a value an older version allowed, and a dropped field
        row = session.get(UseCase, usecase_id)
        assert row is not None
        row.settings = {"storage_quota_mb": -5, "result_retention_days": 7, "retired_field": True}
    read = portal.client.get(f"/api/v1/usecases/{usecase_id}/settings", headers=admin)
    assert read.status_code == 200
    assert read.json()["storage_quota_mb"] == 50_000 and read.json()["result_retention_days"] == 7
