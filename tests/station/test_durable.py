"""DurableBatch: every written file and changed directory is synced, each directory once per batch."""

from __future__ import annotations

from pathlib import Path

from dda.station.services.durable import DurableBatch


def test_a_group_syncs_each_directory_once(tmp_path: Path) -> None:
    day = tmp_path / "2026-12-01"
    with DurableBatch() as batch:
        batch.mkdir(day)
        for index in range(4):  # four captures of a group commit in the same day folder
            folder = day / f"capture-{index}"
            batch.mkdir(folder)
            batch.write(folder / "input.jpg", b"x" * 10)
            batch.write(folder / "manifest.jsonl", b"{}\n")
        # root + day + 4 capture folders, and 8 files: the day folder is not synced five times
        assert len(batch._fds) == 1 + 1 + 4 + 8
        batch.sync()
        assert batch.bytes_written == 4 * 13
    assert sorted(p.name for p in (day / "capture-0").iterdir()) == ["input.jpg", "manifest.jsonl"]
