"""The hash chain: concurrent appends, purge behind a signed checkpoint, `dda portal audit`."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dda.cli.main import app as cli
from dda.core.signing import generate_keypair, load_private_key
from dda.portal.db import AuditEvent, AuditHead
from dda.portal.services import audit as audit_service
from dda.portal.services.audit import AuditEntry
from tests.portal.conftest import PortalHarness

runner = CliRunner()


def _append(portal: PortalHarness, count: int, action: str = "test.event") -> None:
    for number in range(count):
        with portal.portal.session() as session:
            audit_service.append(session, AuditEntry(action=action, summary={"n": number}))


def _verify(portal: PortalHarness) -> audit_service.ChainReport:
    key = audit_service.checkpoint_key(portal.portal).public_key()
    with portal.portal.session() as session:
        return audit_service.verify_chain(session, public_key=key)


def test_concurrent_appends_keep_one_valid_chain(portal: PortalHarness) -> None:
    """Several threads, each with its own connection, appending at once (SQLite and PostgreSQL)."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        try:
            start.wait(timeout=30)
            _append(portal, 15, action=f"test.{name}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    report = _verify(portal)
    assert report.ok and report.rows_checked == 60, report
    with portal.portal.session() as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(1, 61))


APPENDER = """
import sys
from pathlib import Path
from dda.core.settings import Settings
from dda.portal.context import build_portal
from dda.portal.services import audit
data_dir, url, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
settings = Settings(data_dir=Path(data_dir), env="test", portal={"database_url": url})
portal = build_portal(settings, run_migrations=False)
print("ready", flush=True)
sys.stdin.readline()  # start together
for number in range(count):
    with portal.session() as session:
        audit.append(session, audit.AuditEntry(action="proc." + name, summary={"n": number}))
portal.close()
"""


@pytest.mark.slow
def test_two_processes_append_at_once(portal: PortalHarness) -> None:
    """Two OS processes (two API processes' worth of connections) appending to one database."""
    settings = portal.portal.settings
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                APPENDER,
                str(settings.data_dir),
                settings.portal_database_url,
                name,
                "20",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    report = _verify(portal)
    assert report.ok and report.rows_checked == 40, report


def test_purge_keeps_the_rest_verifiable_behind_a_signed_checkpoint(portal: PortalHarness) -> None:
    _append(portal, 5, "old.event")
    cutoff = datetime.now(UTC)
    _append(portal, 3, "new.event")
    with portal.portal.session() as session:
        report = audit_service.purge(session, portal.portal, cutoff)
    assert (report.purged, report.checkpoint_seq) == (5, 5)
    with portal.portal.session() as session:
        assert [e.action for e in session.scalars(select(AuditEvent))] == ["new.event"] * 3
    assert _verify(portal).ok and _verify(portal).rows_checked == 3
    with portal.portal.session() as session:  # nothing older: a second purge is a no-op
        assert audit_service.purge(session, portal.portal, cutoff).purged == 0
    _append(portal, 2)
    assert _verify(portal).ok and _verify(portal).rows_checked == 5
    # Without the key, or with another one, the checkpoint cannot be trusted.
    with portal.portal.session() as session:
        assert not audit_service.verify_chain(session).ok
        stranger = load_private_key(generate_keypair()[0]).public_key()
        assert not audit_service.verify_chain(session, public_key=stranger).ok


def test_a_forged_checkpoint_is_reported(portal: PortalHarness) -> None:
    _append(portal, 4)
    with portal.portal.session() as session:
        audit_service.purge(session, portal.portal, datetime.now(UTC))
    with portal.portal.session() as session:  # an attacker hides rows by moving the checkpoint on
        head = session.get(AuditHead, 1)
        assert head is not None
        head.checkpoint_seq = 2
    report = _verify(portal)
    assert not report.ok and report.first_broken_seq == 2 and "signature" in report.reason


def test_purge_refuses_to_bless_a_tampered_chain(sqlite_portal: PortalHarness) -> None:
    _append(sqlite_portal, 4)
    with sqlite_portal.portal.session() as session:
        row = session.get(AuditEvent, 2)
        assert row is not None
        row.summary = {"n": "forged"}
    with sqlite_portal.portal.session() as session:
        try:
            audit_service.purge(session, sqlite_portal.portal, datetime.now(UTC))
        except Exception as exc:
            assert "broken at row 2" in str(exc)
        else:
            raise AssertionError("purged over a broken link")


def test_cli_verify_and_purge(sqlite_portal: PortalHarness) -> None:
    """The CLI opens the same portal (same data dir, same generated secret key) from the settings."""
    _append(sqlite_portal, 3)
    with sqlite_portal.portal.session() as session:
        audit_service.purge(session, sqlite_portal.portal, datetime.now(UTC))
    _append(sqlite_portal, 2)
    verified = runner.invoke(cli, ["portal", "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "intact: 2 rows checked" in verified.output
    purged = runner.invoke(cli, ["portal", "audit", "purge", "--older-than-days", "30"])
    assert purged.exit_code == 0, purged.output
    assert "purged 0 audit rows" in purged.output
    with sqlite_portal.portal.session() as session:
        row = session.get(AuditEvent, 5)
        assert row is not None
        row.target_id = "tampered"
    broken = runner.invoke(cli, ["portal", "audit", "verify"])
    assert broken.exit_code == 1
    assert "broken at row 5" in broken.output
    assert runner.invoke(cli, ["portal", "audit", "purge", "--older-than-days", "0"]).exit_code != 0
