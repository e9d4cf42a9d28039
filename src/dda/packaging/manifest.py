"""``manifest.json``: what a model package is, how to run it, and the sha256 of every file in it.

The manifest is the one file the Ed25519 signature covers; since it lists the hash of every other
file, a valid signature over it vouches for the whole package (see docs/packages.md).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dda.core.errors import InvalidInput, NotFound
from dda.runtime.types import ModelType, VerdictRule

MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
SCHEMA_VERSION: Literal[1] = 1

# x86_64-cuda is a package target only: the x86_64 ONNX export, run by ONNX Runtime's TensorRT /
# CUDA execution providers where the station has an NVIDIA GPU and by its CPU provider elsewhere.
Target = Literal["x86_64-cpu", "arm64-cpu", "openvino", "jetson", "x86_64-cuda"]
Precision = Literal["fp32", "int8"]
ModelFormat = Literal["onnx", "openvino"]
TARGETS: tuple[str, ...] = ("x86_64-cpu", "arm64-cpu", "openvino", "jetson")

# Triton model names end up as directory names and in config.pbtxt: keep them boring.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$")


class TritonLayout(BaseModel):
    """Names of the Triton models inside the package and the path of the network file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ensemble: str
    marshal: str
    base: str
    post: str
    model_file: str  # relative to the package root, e.g. base_<m>/1/model.onnx


class PackageManifest(BaseModel):
    """Everything the station needs to run and to trust a package."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    version: str
    model_type: ModelType
    backbone: str = ""
    labels: list[str]
    mask_labels: list[str] = Field(default_factory=list)
    threshold: float
    pixel_threshold: float
    min_defect_area_pct: float = Field(default=0.0, ge=0.0, le=100.0)
    verdict_rule: VerdictRule = "cls_head"
    score_scale: float | None = None
    input_size: tuple[int, int]
    mean: list[float] = Field(default_factory=list)
    std: list[float] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    dataset_id: str | None = None
    training_id: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    target: Target
    precision: Precision = "fp32"
    format: ModelFormat = "onnx"
    triton: TritonLayout
    parity: dict[str, Any] = Field(default_factory=dict)
    # Files the install step creates on the device (a TensorRT engine): allowed, not hashed.
    generated_at_install: list[str] = Field(default_factory=list)
    files: dict[str, str]  # relative POSIX path -> sha256 hex, every file except manifest + signature
    # The answer on a fixed image when built (dda.packaging.golden): devices check it after install.
    golden: dict[str, Any] = Field(default_factory=dict)
    dda_version: str = ""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"package name {value!r} must be 1-63 lowercase letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not VERSION_PATTERN.match(value):
            raise ValueError(f"package version {value!r} must be 1-32 characters of [0-9A-Za-z._+-]")
        return value

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("labels must not be empty (index 0 is 'normal')")
        return value

    def postprocess_config(self) -> dict[str, Any]:
        """The keys :class:`dda.runtime.postprocess.PostProcessConfig` reads."""
        return {
            "model_type": self.model_type,
            "labels": self.labels,
            "mask_labels": self.mask_labels,
            "threshold": self.threshold,
            "pixel_threshold": self.pixel_threshold,
            "verdict_rule": self.verdict_rule,
            "min_defect_area_pct": self.min_defect_area_pct,
            "score_scale": self.score_scale,
        }

    def to_json_bytes(self) -> bytes:
        """Canonical bytes: the signature is computed over exactly these."""
        data = self.model_dump(mode="json")
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def parse_manifest(raw: bytes, where: str = MANIFEST_FILE) -> PackageManifest:
    """Validate manifest bytes; every problem becomes one InvalidInput naming the field."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{where} is not valid JSON: {exc}", hint="rebuild the package") from exc
    try:
        return PackageManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(
            f"{where} is not a valid DDA package manifest: {problems}",
            hint="rebuild the package with `dda package`",
        ) from exc


def read_manifest(package_dir: Path) -> PackageManifest:
    """Read ``manifest.json`` of an unpacked package (no signature check: see verify_package)."""
    path = Path(package_dir) / MANIFEST_FILE
    if not path.is_file():
        raise NotFound(
            f"{package_dir} has no {MANIFEST_FILE}, so it is not a DDA model package",
            hint="build one with `dda package EXPORTED --name NAME --version VERSION`",
        )
    return parse_manifest(path.read_bytes(), str(path))
