"""The portal spine end to end: admin login, use case with onboarding, roles, isolation, audit chain."""

from __future__ import annotations

from dda.portal.permissions import Role
from dda.portal.services import audit as audit_service
from tests.portal.conftest import PortalHarness


def test_admin_creates_usecase_and_member_sees_only_it(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    first = portal.create_usecase(admin, "cookies", description="cookie line 1")
    second = portal.create_usecase(admin, "gears")
    body = portal.client.get(f"/api/v1/usecases/{first}", headers=admin).json()
    assert body["onboarding_status"] == "ready", body
    assert body["storage"] == f"default store: usecases/{first}/"

    portal.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=first)
    dana = portal.login("dana")
    listed = portal.client.get("/api/v1/usecases", headers=dana).json()["items"]
    assert [(u["name"], u["my_role"]) for u in listed] == [("cookies", "DataScientist")]
    # Another tenant's id answers 404, exactly like an id that does not exist.
    other = portal.client.get(f"/api/v1/usecases/{second}", headers=dana)
    missing = portal.client.get("/api/v1/usecases/00000000-0000-0000-0000-000000000000", headers=dana)
    assert other.status_code == missing.status_code == 404
    assert other.json()["code"] == missing.json()["code"] == "usecase_not_found"
    # A DataScientist may not change the use case itself.
    denied = portal.client.patch(f"/api/v1/usecases/{first}", json={"description": "x"}, headers=dana)
    assert denied.status_code == 403


def test_onboarding_lays_out_the_store(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "layout")
    from dda.portal.services import storage, usecases

    with portal.portal.session() as session:
        row = usecases.get(session, usecase_id)
        store = storage.store_for(portal.portal, "usecases", row, row.id)
    assert sorted(k.split("/")[0] for k in store.list("")) == sorted(storage.LAYOUT)


def test_every_mutation_and_login_is_audited_in_a_verifiable_chain(portal: PortalHarness) -> None:
    portal.make_user("root", admin=True)
    bad = portal.client.post("/api/v1/auth/login", json={"username": "root", "password": "wrong-Password-1"})
    assert bad.status_code == 401
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "audited")
    portal.client.patch(f"/api/v1/usecases/{usecase_id}", json={"description": "new"}, headers=admin)
    with portal.portal.session() as session:
        from sqlalchemy import select

        from dda.portal.db import AuditEvent

        rows = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        assert [(r.action, r.outcome) for r in rows] == [
            ("auth.login", "denied"),
            ("auth.login", "success"),
            ("usecase.create", "success"),
            ("usecase.update", "success"),
        ]
        assert rows[-1].usecase_id == usecase_id and rows[-1].actor_name == "root"
        assert "wrong" not in str(rows[0].summary)  # no password in the log
        assert audit_service.verify_chain(session).ok
        rows[2].summary = {"name": "forged"}
    with portal.portal.session() as session:
        report = audit_service.verify_chain(session)
    assert not report.ok and report.first_broken_seq == 3
