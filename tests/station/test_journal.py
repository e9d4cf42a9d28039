"""The result journal: what it acknowledged comes back after a power cut, torn or retired records
do not. A power cut cannot be pulled here: the test removes what the page cache would have lost
(rows committed without an fsync, files never synced) and lets a restart restore them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from dda.core.settings import Settings
from dda.runtime.types import Prediction
from dda.station.context import build_station
from dda.station.db.models import Capture, InferenceResult
from dda.station.plugins.sources.base import Frame
from dda.station.services.journal import HEADER, RECORD, ResultJournal, read_records
from dda.station.services.result_store import PendingResult, ResultContext


def _pending(value: int) -> PendingResult:
    image = np.full((24, 32, 3), value, dtype=np.uint8)
    mask = np.zeros((24, 32), dtype=np.uint8)
    mask[2:6, 3:9] = 1
    prediction = Prediction(
        verdict="anomaly", label="anomaly", confidence=0.9, anomaly_score=0.8, threshold=0.5,
        mask=mask, anomaly_map=None, class_areas={"scratch": 3.1}, overlay=image,
        model_name="m", model_version="1",
    )  # fmt: skip
    ctx = ResultContext("manual")
    return PendingResult(Frame(image=image), prediction, ctx, {"inference": 1.0}, ["scratch"])


def test_a_torn_record_and_a_reset_segment_give_nothing_back(tmp_path: Path) -> None:
    journal = ResultJournal(tmp_path / "j", segment_bytes=1 << 20)
    journal.open()
    journal.append(b"first")
    journal.append(b"second")
    segment = tmp_path / "j" / "segment-0.log"
    assert list(read_records(segment)) == [b"first", b"second"]
    with segment.open("r+b") as handle:  # a write torn by a power cut: the checksum does not match
        handle.seek(HEADER.size + RECORD.size + 5 + RECORD.size + 2)
        handle.write(b"X")
    assert list(read_records(segment)) == [b"first"]
    retired = journal.rotate()
    assert retired is not None
    journal.retire(retired)  # a new salt: the old records are not records any more
    assert list(read_records(segment)) == [] and journal.replay() == []
    journal.close()


def test_acknowledged_results_come_back_after_a_simulated_power_cut(station_settings: Settings) -> None:
    station = build_station(station_settings)
    store = station.store
    store.writes.interval_s = 3600  # no checkpoint may retire the records before the "power cut"
    store.start()
    rows = store.save_results([_pending(10), _pending(20)]) + store.save_results([_pending(30)])
    expected = {row.id: (row.input_path, (store.root / row.input_path).read_bytes()) for row in rows}
    assert [row.id for row in rows] == sorted(expected) and len(set(expected)) == 3
    # The power cut: the journal record was synced; the rows (synchronous=NORMAL) and the files
    # (never synced) were still in memory. One input survives cut short, the rest are gone.
    with station.session() as session:
        session.execute(delete(InferenceResult).where(InferenceResult.id.in_([rows[1].id, rows[2].id])))
        session.execute(delete(Capture).where(Capture.id.in_([rows[1].capture_id, rows[2].capture_id])))
    first_input = store.root / rows[0].input_path
    first_input.write_bytes(first_input.read_bytes()[:10])
    for row in rows[1:]:
        for relative in (row.input_path, row.mask_path or "", row.manifest_path):
            os.remove(store.root / relative)
    store.writes.journal.close()  # the process is gone: no checkpoint ran
    station.engine.dispose()

    again = build_station(station_settings)
    again.store.start()  # restores from the journal, then starts it over
    with again.session() as session:
        restored = {row.id: row for row in session.scalars(select(InferenceResult))}
        assert sorted(restored) == sorted(expected)
        for result_id, (input_path, data) in expected.items():
            row = restored[result_id]
            assert row.input_path == input_path and (again.store.root / input_path).read_bytes() == data
            assert (again.store.root / row.mask_path).stat().st_size > 0
            assert (again.store.root / row.manifest_path).read_text().startswith("{")
            assert row.created_at.tzinfo is not None and row.model_name == "m"
    assert again.store.writes.journal.replay() == []  # restored and synced: the journal starts over
    new = again.store.save_results([_pending(40)])[0]
    assert new.id == max(expected) + 1  # ids go on after the restored ones
    again.store.close()
    again.engine.dispose()


def test_a_checkpoint_retires_what_it_synced(station_settings: Settings) -> None:
    station = build_station(station_settings)
    station.store.start()
    station.store.save_results([_pending(1)])
    assert len(station.store.writes.journal.replay()) == 1
    station.store.writes.checkpoint()
    assert station.store.writes.journal.replay() == []
    station.store.save_results([_pending(2)])
    station.store.close()  # a clean stop checkpoints too
    assert station.store.writes.journal.replay() == []
    station.engine.dispose()


def test_a_group_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    journal = ResultJournal(tmp_path / "j", segment_bytes=64 * 1024)
    journal.open()
    big = os.urandom(200 * 1024)
    assert not journal.has_room(len(big))
    assert journal.rotate(len(big)) is None  # empty: nothing to retire, but a segment with room
    assert journal.has_room(len(big))
    journal.append(big)
    assert journal.replay() == [big]
    journal.close()


@pytest.mark.parametrize("mode", ["FULL", "NORMAL"])
def test_result_rows_skip_the_per_commit_fsync_and_everything_else_keeps_it(
    station_settings: Settings, mode: str
) -> None:
    from sqlalchemy import text

    station = build_station(station_settings)
    sessions = station.store.writes.fast_sessions if mode == "NORMAL" else station.sessions
    with sessions() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == {"FULL": 2, "NORMAL": 1}[mode]
    station.engine.dispose()


def _other_process_count(database: Path) -> int:
    """Rows another process sees (its connection closes at the end, as any reader's does)."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM inference_results').fetchone()[0]); c.close()"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(database)], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def test_syncing_the_database_keeps_its_commits_visible_to_other_processes(
    station_settings: Settings,
) -> None:
    """The checkpoint fsyncs the SQLite files without closing a descriptor of them while the
    station runs: a close() drops the process's SQLite locks, and another process's reader then
    deleted the WAL the station went on committing into (its commits seen by nobody else)."""
    station = build_station(station_settings)
    store = station.store
    store.start()  # recover() syncs the database files
    try:
        store.save_results([_pending(10)])
        store.writes.checkpoint()
        database = Path(station.engine.url.database or "")
        assert _other_process_count(database) == 1
        store.save_results([_pending(20)])
        assert database.with_name(database.name + "-wal").exists()
        assert _other_process_count(database) == 2
    finally:
        station.engine.dispose()
        store.close()
