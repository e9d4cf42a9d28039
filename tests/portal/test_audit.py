"""The audit log: query API (filters, keyset pages), CSV export, who sees what, secrets scrubbed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from dda.portal.permissions import Role
from dda.portal.services.audit import scrub
from tests.portal.conftest import PortalHarness


def _activity(portal: PortalHarness) -> tuple[dict[str, str], str, str]:
    """Two use cases with some history: logins (one failed), creations, updates."""
    portal.make_user("root", admin=True)
    failed = portal.client.post(
        "/api/v1/auth/login", json={"username": "root", "password": "Wrong-Pass-1234"}
    )
    assert failed.status_code == 401
    admin = portal.login("root")
    first = portal.create_usecase(admin, "first")
    second = portal.create_usecase(admin, "second")
    for text in ("one", "two", "three"):
        portal.client.patch(f"/api/v1/usecases/{first}", json={"description": text}, headers=admin)
    portal.client.patch(f"/api/v1/usecases/{second}", json={"description": "x"}, headers=admin)
    return admin, first, second


def _walk(portal: PortalHarness, url: str, headers: dict[str, str], **params: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    cursor = None
    while True:
        query = {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = portal.client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_query_filters_and_keyset_pages(portal: PortalHarness) -> None:
    admin, first, second = _activity(portal)
    everything = _walk(portal, "/api/v1/audit", admin)
    seqs = [int(str(r["seq"])) for r in everything]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs) == 8
    mine = _walk(portal, "/api/v1/audit", admin, usecase_id=first)
    assert [r["action"] for r in mine] == ["usecase.update"] * 3 + ["usecase.create"]
    assert {r["usecase_id"] for r in mine} == {first}
    logins = _walk(portal, "/api/v1/audit", admin, action="auth.")
    assert [(r["action"], r["outcome"]) for r in logins] == [
        ("auth.login", "success"),
        ("auth.login", "denied"),
    ]
    denied = _walk(portal, "/api/v1/audit", admin, outcome="denied")
    assert [r["action"] for r in denied] == ["auth.login"]
    by_user = _walk(portal, "/api/v1/audit", admin, user="root", action="usecase.update")
    assert len(by_user) == 4
    latest = everything[0]["at"]
    assert _walk(portal, "/api/v1/audit", admin, since=str(latest))[0]["seq"] == everything[0]["seq"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert _walk(portal, "/api/v1/audit", admin, since=future) == []
    assert len(_walk(portal, "/api/v1/audit", admin, until=future)) == 8
    assert portal.client.get("/api/v1/audit?cursor=abc", headers=admin).status_code == 422
    assert portal.client.get("/api/v1/audit?outcome=maybe", headers=admin).status_code == 422
    assert (
        portal.client.get("/api/v1/audit?since=0001-01-01T00:00:00%2B14:00", headers=admin).status_code == 422
    )
    assert second not in {r["usecase_id"] for r in mine}


def test_usecase_admin_sees_only_their_usecase(portal: PortalHarness) -> None:
    _admin, first, second = _activity(portal)
    portal.make_user("uca", role=Role.USECASE_ADMIN, usecase_id=first)
    portal.make_user("vic", role=Role.VIEWER, usecase_id=first)
    uca, vic = portal.login("uca"), portal.login("vic")
    rows = _walk(portal, f"/api/v1/usecases/{first}/audit", uca)
    assert {r["usecase_id"] for r in rows} == {first} and len(rows) == 4
    assert portal.client.get("/api/v1/audit", headers=uca).status_code == 403
    assert portal.client.get(f"/api/v1/usecases/{second}/audit", headers=uca).status_code == 404
    assert portal.client.get(f"/api/v1/usecases/{first}/audit", headers=vic).status_code == 403
    export = portal.client.get(f"/api/v1/usecases/{first}/audit/export", headers=uca)
    lines = list(csv.DictReader(io.StringIO(export.text)))
    assert {line["usecase_id"] for line in lines} == {first} and len(lines) == 4


def test_csv_export_streams_every_row_and_defuses_formulas(sqlite_portal: PortalHarness) -> None:
    portal = sqlite_portal
    admin, _first, _second = _activity(portal)
    evil = portal.client.post("/api/v1/auth/login", json={"username": "=1+2", "password": "Wrong-Pass-1234"})
    assert evil.status_code == 401
    with portal.client.stream("GET", "/api/v1/audit/export", headers=admin) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        text = "".join(response.iter_text())
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 9
    assert [int(line["seq"]) for line in lines] == list(range(9, 0, -1))
    assert lines[0]["actor_name"] == "'=1+2"  # a spreadsheet shows it, never runs it
    filtered = portal.client.get("/api/v1/audit/export?action=usecase.create", headers=admin).text
    assert len(list(csv.DictReader(io.StringIO(filtered)))) == 2


def test_no_secret_ever_enters_a_summary(sqlite_portal: PortalHarness) -> None:
    cleaned = scrub(
        {
            "password": "Correct-Horse-9",
            "s3": {"bucket": "b", "secret_access_key": "S3CR3T-VALUE", "more": [{"token": "T0K3N-VALUE"}]},
            "database": "postgresql://dda:DB-PASSWORD@db/portal",
            "header": "Bearer abc.def.ghi",
            "note": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
            "pem": "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP\n-----END PRIVATE KEY-----",
            "name": "fine",
        }
    )
    text = str(cleaned)
    for secret in (
        "Correct-Horse-9",
        "S3CR3T-VALUE",
        "T0K3N-VALUE",
        "DB-PASSWORD",
        "abc.def",
        "eyJhbGci",
        "MC4C",
    ):
        assert secret not in text, secret
    assert cleaned["name"] == "fine" and cleaned["password"] == "***"
    # End to end: a password change and a login never leave the password in the log.
    portal = sqlite_portal
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    portal.client.post(
        "/api/v1/usecases", json={"name": "x", "description": "Bearer sk-live-123"}, headers=admin
    )
    export = portal.client.get("/api/v1/audit/export", headers=admin).text
    assert "Correct-Horse" not in export and admin["Authorization"][7:] not in export
