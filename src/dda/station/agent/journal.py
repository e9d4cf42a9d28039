"""The install journal: what the agent was doing, written durably before each risky step, so that a
restart after a crash (SIGKILL, power cut) finishes or undoes it and the station always has a
working model."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Journal:
    phase: str = "idle"  # idle | swapping | committed | rolled_back
    deployment_id: str | None = None
    etag: str | None = None
    previous: dict[str, str] = field(default_factory=dict)  # model name -> version before the swap
    new: dict[str, str] = field(default_factory=dict)
    # Workflow id -> (model name, version) before the swap: exactly what to restore.
    workflows: dict[str, list[str]] = field(default_factory=dict)
    applied_etag: str | None = None  # the last desired state fully applied (or given up on)
    failed_etag: str | None = None  # a desired state that failed here: not retried until it changes
    reason: str | None = None

    @classmethod
    def load(cls, path: Path) -> Journal:
        if not path.is_file():
            return cls()
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return cls()  # a torn write cannot happen (atomic replace); an edited file is ignored

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as handle:
            json.dump(asdict(self), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
