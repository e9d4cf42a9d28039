"""``export.json``: what `dda export` produced, read by `dda package` (no torch needed to read it).

An export directory holds the network file(s) (``model.onnx``, or ``model.xml`` + ``model.bin``),
``parity_report.json``, ``export.json`` and, for Jetson, ``build_engine.sh``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dda.core.errors import InvalidInput, NotFound
from dda.packaging.manifest import ModelFormat, Precision, Target

EXPORT_FILE = "export.json"


class ExportInfo(BaseModel):
    """The export's target, precision, files, training config and parity summary."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    format_version: Literal[1] = 1
    target: Target
    precision: Precision
    format: ModelFormat
    model_file: str  # relative to the export directory
    files: list[str]  # every file to ship in the base model's version directory
    config: dict[str, Any]
    parity: dict[str, Any] = Field(default_factory=dict)
    quantization: dict[str, Any] | None = None
    generated_at_install: list[str] = Field(default_factory=list)
    opset: int | None = None
    exporter: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def write(self, out_dir: Path) -> Path:
        path = Path(out_dir) / EXPORT_FILE
        data = self.model_dump(mode="json")
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        return path


def read_export(export_dir: Path) -> ExportInfo:
    """Read and validate ``export.json`` and check the files it names exist."""
    export_dir = Path(export_dir)
    path = export_dir / EXPORT_FILE
    if not path.is_file():
        raise NotFound(
            f"{export_dir} has no {EXPORT_FILE}, so it is not a `dda export` output",
            hint="run `dda export MODEL_TAR --target ... -o DIR` first and package DIR",
        )
    try:
        info = ExportInfo.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
        raise InvalidInput(
            f"{path} is not a valid export description: {exc}", hint="re-run `dda export`"
        ) from exc
    for name in info.files:
        if Path(name).name != name or not (export_dir / name).is_file():
            raise InvalidInput(
                f"export file {name!r} named in {path} is missing or not a plain file name",
                hint="re-run `dda export` into an empty directory",
            )
    if info.model_file not in info.files:
        raise InvalidInput(f"{path}: model_file {info.model_file!r} is not among its files")
    return info
