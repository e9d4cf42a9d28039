"""JSON Lines manifests: read with line numbers (collecting bad lines), write atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dda.core.errors import InvalidInput, NotFound
from dda.formats.problems import ProblemList

# A manifest line larger than this is certainly not a label record; refuse it before json.loads.
MAX_LINE_BYTES = 1_000_000
MAX_LINES = 2_000_000


@dataclass(frozen=True)
class ManifestLine:
    """One JSON object of a manifest and its 1-based line number in the file."""

    number: int
    data: dict[str, Any]


def read_manifest_lines(path: Path, problems: ProblemList) -> list[ManifestLine]:
    """Parse every non-blank line; a line that is not a JSON object becomes a problem."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(
            f"manifest {path} does not exist or is not a file",
            hint="check the path; Ground Truth writes <output>/<job>/manifests/output/output.manifest",
        )
    lines: list[ManifestLine] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number > MAX_LINES:
                raise InvalidInput(
                    f"manifest {path} has more than {MAX_LINES} lines",
                    hint="split the manifest into smaller ones",
                )
            parsed = _parse_line(number, raw, problems)
            if parsed is not None:
                lines.append(parsed)
    if not lines and not problems.errors:
        problems.add(0, f"manifest {path.name} has no records", "add one JSON object per line")
    return lines


def _parse_line(number: int, raw: bytes, problems: ProblemList) -> ManifestLine | None:
    if not raw.strip():
        return None
    if len(raw) > MAX_LINE_BYTES:
        problems.add(number, f"line is {len(raw)} bytes long", "one line must hold one image's labels")
        return None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        problems.add(number, "line is not UTF-8 text", "save the manifest as UTF-8")
        return None
    except json.JSONDecodeError as exc:
        problems.add(
            number,
            f"line is not valid JSON ({exc.msg} at column {exc.colno})",
            "write exactly one JSON object per line (JSON Lines); check quotes and commas",
        )
        return None
    if not isinstance(data, dict):
        problems.add(
            number,
            f"line holds a JSON {type(data).__name__}, not an object",
            'each line must be an object like {"source-ref": "...", ...}',
        )
        return None
    return ManifestLine(number, data)


def write_manifest(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write records as JSON Lines; the file appears complete or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
