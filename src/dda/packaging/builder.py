"""`dda package`: an export -> a signed Triton-layout model package (see docs/packages.md).

Package layout for model name ``<m>``::

    manifest.json                 PackageManifest: type, labels, thresholds, ..., sha256 of every file
    SHA256SUMS.json(.sig)         dda.core.signing: signed sha256 list of every file (Ed25519)
    <m>/config.pbtxt, <m>/1/      ensemble: marshal -> base -> post
    marshal_<m>/config.pbtxt, 1/model.py
    base_<m>/config.pbtxt, 1/model.onnx | 1/model.xml + model.bin | 1/model.onnx + build_engine.sh
    post_<m>/config.pbtxt, 1/model.py, 1/dda_postprocess.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dda
from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.core.logging import get_logger
from dda.core.signing import PrivateKeyLike, file_sha256, load_private_key, sign_directory
from dda.packaging.exported import ExportInfo, read_export
from dda.packaging.golden import record_golden
from dda.packaging.manifest import MANIFEST_FILE, PackageManifest, TritonLayout
from dda.packaging.triton import VERSION_DIR, ModelNames, repository_configs
from dda.packaging.triton_models import MARSHAL_SOURCE, POST_SOURCE
from dda.runtime import postprocess as postprocess_module

log = get_logger(__name__)

POSTPROCESS_COPY = "dda_postprocess.py"


def _export_info(exported: Path, config: Mapping[str, Any] | None) -> tuple[Path, ExportInfo]:
    """An export directory, or a bare ``.onnx`` file plus its training config."""
    if exported.is_dir():
        info = read_export(exported)
        if config is not None:
            info = info.model_copy(update={"config": dict(config)})
        return exported, info
    if exported.is_file() and exported.suffix == ".onnx":
        if config is None:
            raise InvalidInput(
                f"{exported.name} is a bare ONNX file: the package needs the model's training config",
                hint="package the `dda export` output directory instead, or pass config=",
            )
        info = ExportInfo(
            target="x86_64-cpu",
            precision="fp32",
            format="onnx",
            model_file=exported.name,
            files=[exported.name],
            config=dict(config),
        )
        return exported.parent, info
    raise NotFound(
        f"{exported} is neither an export directory nor an .onnx file",
        hint="run `dda export MODEL_TAR --target ... -o DIR` and package DIR",
    )


def _manifest_fields(info: ExportInfo, name: str, version: str, names: ModelNames) -> dict[str, Any]:
    cfg = info.config
    model_type = cfg.get("model_type")
    labels = list(cfg.get("class_names") or cfg.get("labels") or [])
    mask_labels = list(cfg.get("mask_class_names") or cfg.get("mask_labels") or [])
    if model_type == "anomaly" and len(mask_labels) < 2:
        mask_labels = ["background", "anomaly"]
    threshold = cfg.get("threshold", 0.5)
    pixel = cfg.get("pixel_threshold")
    return {
        "name": name,
        "version": version,
        "model_type": model_type,
        "backbone": str(cfg.get("backbone", "")),
        "labels": labels,
        "mask_labels": mask_labels,
        "threshold": threshold,
        "pixel_threshold": threshold if pixel is None else pixel,
        "min_defect_area_pct": cfg.get("min_defect_area_pct") or 0.0,
        "verdict_rule": cfg.get("verdict_rule") or "cls_head",
        "score_scale": _score_scale(cfg),
        "input_size": cfg.get("input_size"),
        "mean": list(cfg.get("mean") or []),
        "std": list(cfg.get("std") or []),
        "metrics": dict(cfg.get("metrics") or {}),
        "dataset_id": cfg.get("dataset_id"),
        "training_id": cfg.get("training_id"),
        "target": info.target,
        "precision": info.precision,
        "format": info.format,
        "triton": TritonLayout(
            ensemble=names.ensemble,
            marshal=names.marshal,
            base=names.base,
            post=names.post,
            model_file=f"{names.base}/{VERSION_DIR}/{info.model_file}",
        ),
        "parity": info.parity,
        "generated_at_install": [f"{names.base}/{VERSION_DIR}/{f}" for f in info.generated_at_install],
        "dda_version": dda.__version__,
    }


def _score_scale(cfg: Mapping[str, Any]) -> float | None:
    """Spread of anomaly scores for the confidence: given, or the normal images' p50..p99 gap
    relative to p99 (anomaly trainers divide scores by that p99, see dda.ml.models.anomaly)."""
    if cfg.get("score_scale") is not None:
        return float(cfg["score_scale"])
    normal = cfg.get("normal_scores")
    if isinstance(normal, Mapping) and normal.get("raw_p99") and normal.get("raw_p50") is not None:
        p99, p50 = float(normal["raw_p99"]), float(normal["raw_p50"])
        if p99 > p50 > 0:
            return (p99 - p50) / p99
    return None


def _validated(fields: dict[str, Any]) -> PackageManifest:
    """Validate the manifest before any file is written (files filled in later)."""
    from pydantic import ValidationError

    try:
        return PackageManifest.model_validate({**fields, "files": {}})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(
            f"cannot build package: {problems}", hint="check --name/--version and the model's training config"
        ) from exc


def _write_tree(staging: Path, source_dir: Path, info: ExportInfo, manifest: PackageManifest) -> None:
    names = ModelNames(
        manifest.triton.ensemble, manifest.triton.marshal, manifest.triton.base, manifest.triton.post
    )
    for model in (names.ensemble, names.marshal, names.base, names.post):
        (staging / model / VERSION_DIR).mkdir(parents=True)
    configs = repository_configs(manifest.model_dump(mode="json"), manifest.postprocess_config())
    for rel, text in configs.items():
        (staging / rel).write_text(text, encoding="utf-8")
    for file_name in info.files:
        shutil.copyfile(source_dir / file_name, staging / names.base / VERSION_DIR / file_name)
        if os.access(source_dir / file_name, os.X_OK):
            (staging / names.base / VERSION_DIR / file_name).chmod(0o755)
    shutil.copyfile(MARSHAL_SOURCE, staging / names.marshal / VERSION_DIR / "model.py")
    shutil.copyfile(POST_SOURCE, staging / names.post / VERSION_DIR / "model.py")
    shutil.copyfile(Path(postprocess_module.__file__), staging / names.post / VERSION_DIR / POSTPROCESS_COPY)


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): file_sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }


def build_package(
    exported: Path,
    config: Mapping[str, Any] | None,
    out_dir: Path,
    signing_key: PrivateKeyLike | Path,
    *,
    name: str,
    version: str,
) -> Path:
    """Build and sign a package from an export directory (or a bare ONNX file + config).

    ``config`` overrides the training config stored in ``export.json`` (None: use it).
    ``out_dir`` becomes the package root; it must not exist yet or be empty. Returns ``out_dir``.
    """
    exported, out_dir = Path(exported), Path(out_dir)
    source_dir, info = _export_info(exported, config)
    key = load_private_key(signing_key)
    names = ModelNames.for_model(name)
    fields = _manifest_fields(info, name, version, names)
    _validated(fields)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Conflict(
            f"package directory {out_dir} already exists and is not empty",
            hint="choose another -o directory or remove the old one",
        )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dda-package-", dir=out_dir.parent) as tmp:
        staging = Path(tmp) / "package"
        staging.mkdir()
        _write_tree(staging, source_dir, info, _validated(fields))
        manifest = PackageManifest.model_validate({**fields, "files": _hash_tree(staging)})
        (staging / MANIFEST_FILE).write_bytes(manifest.to_json_bytes())
        golden = record_golden(staging, manifest.input_size, manifest.precision)
        if golden is not None:
            fields = {**fields, "golden": golden}
            manifest = PackageManifest.model_validate({**fields, "files": _hash_tree(staging)})
        (staging / MANIFEST_FILE).write_bytes(manifest.to_json_bytes())
        sign_directory(staging, key, exclude=manifest.generated_at_install)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)  # publish in one step: no half-built package is ever visible
    log.info("package built", path=str(out_dir), name=name, version=version, target=info.target)
    return out_dir
