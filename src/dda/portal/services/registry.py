"""The model registry: versions of each use case's models, their artifacts, metrics and plots,
lineage, stage (candidate -> staging -> production -> archived) and the packages built from them.

Contract functions other portal areas call (see /work/notes/portal.md): :func:`register_version`,
:func:`fetch_artifact`, :func:`add_package`. Artifacts are checked before anything is stored: core's
safe archive extraction (traversal, links outside, bombs) and then :func:`dda.ml.artifact.load_artifact`,
which rebuilds the model strictly from its config and weights (or opens an imported ONNX graph).
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import dda
from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.core.safe_archive import extract_archive
from dda.core.storage import ObjectStore
from dda.portal.context import Portal
from dda.portal.db import ModelPackage, ModelStageChange, ModelVersion, RegisteredModel
from dda.portal.db.registry import STAGES
from dda.portal.repositories import registry as repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage

ARTIFACT_FILE = "model.tar.gz"
MAX_ARTIFACT_MEMBERS = 300
MODEL_TYPES = ("classification", "segmentation", "anomaly")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_PLOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Where a promotion may send the previous production version.
DEMOTE_TO = ("staging", "archived")


@dataclass
class ArtifactInfo:
    """What a checked model.tar.gz holds (the model itself is dropped after the check)."""

    config: dict[str, Any]
    metrics: dict[str, Any]
    plots: dict[str, bytes]
    sha256: str
    size: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_artifact(path: Path, *, max_bytes: int) -> ArtifactInfo:
    """Extract ``path`` safely into a scratch folder and load it as a DDA model; raise InvalidInput
    naming what does not fit (unsafe member, missing file, weights that do not fit the config)."""
    from dda.ml.artifact import load_artifact

    size = path.stat().st_size
    with tempfile.TemporaryDirectory(prefix="dda-artifact-") as tmp:
        folder = Path(tmp) / "model"
        try:
            files = extract_archive(
                path,
                folder,
                max_entries=MAX_ARTIFACT_MEMBERS,
                max_total_bytes=max_bytes,
                max_file_bytes=max_bytes,
            )
        except InvalidInput as exc:
            raise InvalidInput(f"the model archive is refused: {exc.message}", hint=exc.hint) from exc
        links = [p.relative_to(folder).as_posix() for p in files if p.is_symlink() or _is_hardlink(p)]
        if links:
            raise InvalidInput(
                f"the model archive holds links ({', '.join(links[:5])})",
                hint="a model.tar.gz holds regular files only: pack the files themselves",
            )
        try:
            trained = load_artifact(folder)
        except InvalidInput as exc:  # its messages name the scratch folder: never show server paths
            message = exc.message.replace(f"{folder}/", "").replace(str(folder), "the model archive")
            raise InvalidInput(message, hint=exc.hint) from None
        config = dict(trained.config)
        if config.get("model_type") not in MODEL_TYPES:
            raise InvalidInput(f"the artifact's model_type {config.get('model_type')!r} is unknown")
        plots = {name: data for name, data in trained.plots.items() if _PLOT_NAME.match(name)}
        return ArtifactInfo(config, dict(trained.metrics), plots, file_sha256(path), size)


def _is_hardlink(path: Path) -> bool:
    return path.is_file() and path.stat().st_nlink > 1


@functools.cache
def code_commit() -> str | None:
    """The git commit of the running DDA code, when it runs from a checkout (else None)."""
    root = Path(dda.__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", commit) else None


def build_lineage(config: dict[str, Any], lineage: dict[str, Any], source: str) -> dict[str, Any]:
    """Dataset version, training parameters and code version; what the caller knows wins."""
    out = dict(lineage)
    out.setdefault("dataset_version_id", config.get("dataset_version_id"))
    out.setdefault("dataset_id", config.get("dataset_id"))
    out.setdefault("training_id", config.get("training_id"))
    out.setdefault("training_parameters", config.get("options") or {})
    code = dict(out.get("code_version") or {})
    code.setdefault("dda", config.get("dda_version") or (dda.__version__ if source == "trained" else None))
    if "git_commit" not in code:
        code["git_commit"] = config.get("git_commit") or (code_commit() if source == "trained" else None)
    out["code_version"] = code
    return out


def usecase_store(session: Session, portal: Portal, usecase_id: str) -> ObjectStore:
    row = usecases_repo.by_id(session, usecase_id)
    if row is None:
        raise NotFound(f"no use case {usecase_id!r}", hint="pick one from GET /api/v1/usecases")
    return storage.store_for(portal, "usecases", row, row.id)


def version_prefix(version: ModelVersion) -> str:
    return f"models/{version.model_id}/{version.id}"


def _model_for(
    session: Session, usecase_id: str, name: str, model_type: str, actor_id: str | None
) -> RegisteredModel:
    if not _MODEL_NAME.match(name):
        raise InvalidInput(
            f"model name {name[:80]!r} is not allowed",
            hint="1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    model = repo.model_by_name(session, usecase_id, name, lock=True)
    if model is None:
        model = RegisteredModel(usecase_id=usecase_id, name=name, model_type=model_type, created_by=actor_id)
        try:
            with session.begin_nested():
                session.add(model)
                session.flush()
        except IntegrityError as exc:  # another request created it a moment ago
            raise Conflict(
                f"model {name!r} was just created by another request", hint="send the request again"
            ) from exc
    elif model.model_type != model_type:
        raise Conflict(
            f"model {name!r} holds {model.model_type} versions; this artifact is a {model_type} model",
            hint="register it under another model name",
        )
    return model


def register_version(
    session: Session,
    portal: Portal,
    usecase_id: str,
    model_name: str,
    artifact: Path,
    *,
    source: str,
    lineage: dict[str, Any],
    created_by: str | None = None,
    description: str = "",
) -> ModelVersion:
    """Check ``artifact`` (a model.tar.gz made by dda.ml), store it with its plots in the use case's
    store under ``models/`` and record a new ``candidate`` version of ``model_name`` (created if
    missing). Metrics and plots are read from the artifact."""
    artifact = Path(artifact)
    max_bytes = portal.settings.portal.max_model_upload_mb << 20
    if not artifact.is_file():
        raise NotFound("the model artifact to register does not exist", hint="pass a model.tar.gz")
    if artifact.stat().st_size > max_bytes:
        raise InvalidInput(f"the model artifact is larger than {max_bytes >> 20} MiB")
    info = check_artifact(artifact, max_bytes=max_bytes)
    model_type = str(info.config["model_type"])
    model = _model_for(session, usecase_id, model_name, model_type, created_by)
    version = ModelVersion(
        usecase_id=usecase_id,
        model_id=model.id,
        version=repo.next_version_number(session, model.id),
        stage="candidate",
        source=source[:32],
        description=description,
        model_type=model_type,
        backbone=str(info.config.get("backbone", ""))[:64],
        artifact_key="",
        artifact_sha256=info.sha256,
        artifact_bytes=info.size,
        config=_jsonable(info.config),
        metrics=_jsonable(info.metrics),
        plots=sorted(info.plots),
        lineage=_jsonable(build_lineage(info.config, lineage, source)),
        created_by=created_by,
    )
    session.add(version)
    session.flush()
    store = usecase_store(session, portal, usecase_id)
    version.artifact_key = f"{version_prefix(version)}/{ARTIFACT_FILE}"
    store.put_file(version.artifact_key, artifact, content_type="application/gzip")
    for name, png in info.plots.items():
        store.put_bytes(f"{version_prefix(version)}/plots/{name}.png", png, content_type="image/png")
    session.add(
        ModelStageChange(
            usecase_id=usecase_id,
            version_id=version.id,
            to_stage="candidate",
            actor_id=created_by,
            reason=f"registered ({source})",
        )
    )
    model.updated_at = datetime.now(UTC)
    session.flush()
    return version


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def get_version(session: Session, usecase_id: str, version_id: str) -> ModelVersion:
    version = repo.version_by_id(session, usecase_id, version_id)
    if version is None:
        raise NotFound(
            f"no model version {version_id[:64]!r} in this use case", hint="list the model's versions"
        )
    return version


def get_model(session: Session, usecase_id: str, model_id: str) -> RegisteredModel:
    model = repo.model_by_id(session, usecase_id, model_id)
    if model is None:
        raise NotFound(f"no model {model_id[:64]!r} in this use case", hint="GET .../models lists them")
    return model


def fetch_artifact(
    session: Session, portal: Portal, usecase_id: str, version_id: str, dest_dir: Path
) -> Path:
    """Copy the version's model.tar.gz into ``dest_dir`` (checked against its recorded sha256)."""
    version = get_version(session, usecase_id, version_id)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = usecase_store(session, portal, usecase_id).get_file(version.artifact_key, dest_dir / ARTIFACT_FILE)
    if file_sha256(path) != version.artifact_sha256:
        path.unlink(missing_ok=True)
        raise InvalidInput(
            f"the stored artifact of model version {version.version} does not match its sha256",
            hint="the object store copy was modified or corrupted; register the model again",
        )
    return path


def add_package(
    session: Session,
    portal: Portal,
    usecase_id: str,
    version_id: str,
    *,
    target: str,
    precision: str,
    package_key: str,
    sha256: str,
    report: dict[str, Any],
) -> ModelPackage:
    """Record the package built from a version for ``target``/``precision`` (a rebuild replaces the
    record). ``package_key`` is the key in the use case's store (under ``packages/``)."""
    from dda.packaging.manifest import TARGETS

    version = get_version(session, usecase_id, version_id)
    if target not in TARGETS:
        raise InvalidInput(f"unknown package target {target!r}", hint=f"one of {', '.join(TARGETS)}")
    if precision not in ("fp32", "fp16", "int8"):
        raise InvalidInput(f"unknown precision {precision!r}", hint="fp32, fp16 or int8")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InvalidInput("sha256 must be 64 lower-case hex digits")
    if not package_key.startswith("packages/") or ".." in package_key.split("/"):
        raise InvalidInput("package_key must be a key under packages/ in the use case's store")
    row = repo.package_for(session, version.id, target, precision)
    if row is None:
        row = ModelPackage(usecase_id=usecase_id, version_id=version.id, target=target, precision=precision)
        session.add(row)
    row.package_key, row.sha256, row.report = package_key, sha256, _jsonable(report)
    row.created_at = datetime.now(UTC)
    session.flush()
    return row


def set_stage(
    session: Session,
    usecase_id: str,
    version_id: str,
    stage: str,
    *,
    actor_id: str | None,
    reason: str = "",
    demote_to: str = "staging",
) -> list[tuple[ModelVersion, str]]:
    """Move a version to ``stage``; promoting to production demotes the previous production version
    (to ``demote_to``). Returns every (version, previous stage) that changed, history rows written."""
    if stage not in STAGES:
        raise InvalidInput(f"unknown stage {stage!r}", hint=f"one of {', '.join(STAGES)}")
    if demote_to not in DEMOTE_TO:
        raise InvalidInput(f"demote_to must be one of {', '.join(DEMOTE_TO)}")
    version = get_version(session, usecase_id, version_id)
    repo.model_by_id(session, usecase_id, version.model_id, lock=True)  # serialises promotions
    if version.stage == stage:
        raise Conflict(f"version {version.version} is already in {stage}", hint="nothing to change")
    changed: list[tuple[ModelVersion, str]] = []
    if stage == "production":
        for previous in repo.versions_in_stage(session, version.model_id, "production"):
            if previous.id != version.id:
                changed.append((previous, previous.stage))
                _move(session, previous, demote_to, actor_id, f"replaced by version {version.version}")
        session.flush()  # demote first: the database allows one production version per model
    changed.insert(0, (version, version.stage))
    _move(session, version, stage, actor_id, reason)
    session.flush()
    return changed


def _move(session: Session, version: ModelVersion, stage: str, actor_id: str | None, reason: str) -> None:
    session.add(
        ModelStageChange(
            usecase_id=version.usecase_id,
            version_id=version.id,
            from_stage=version.stage,
            to_stage=stage,
            actor_id=actor_id,
            reason=reason[:500],
        )
    )
    version.stage = stage
    version.stage_changed_at = datetime.now(UTC)


def delete_version(session: Session, portal: Portal, usecase_id: str, version_id: str) -> ModelVersion:
    """Delete a version that is neither in production nor packaged (409 otherwise), with its
    objects; the model goes too when this was its last version."""
    version = get_version(session, usecase_id, version_id)
    if version.stage == "production":
        raise Conflict(
            f"version {version.version} is in production",
            hint="promote another version or archive this one first",
        )
    built = repo.packages(session, usecase_id, version.id)
    if built:
        targets = ", ".join(sorted({p.target for p in built}))
        raise Conflict(
            f"version {version.version} has packages ({targets}) that devices may run",
            hint="archive the version instead; packaged versions are kept for traceability",
        )
    store = usecase_store(session, portal, usecase_id)
    for key in store.list(f"{version_prefix(version)}/"):
        store.delete(key)
    model_id = version.model_id
    session.delete(version)
    session.flush()
    if repo.count_versions(session, model_id) == 0:
        model = repo.model_by_id(session, usecase_id, model_id)
        if model is not None:
            session.delete(model)
    return version


def plot_png(session: Session, portal: Portal, usecase_id: str, version_id: str, name: str) -> bytes:
    version = get_version(session, usecase_id, version_id)
    if name not in version.plots:
        raise NotFound(
            f"version {version.version} has no plot {name[:100]!r}", hint="see the version's plots list"
        )
    return usecase_store(session, portal, usecase_id).get_bytes(f"{version_prefix(version)}/plots/{name}.png")


def _numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten nested metrics to dotted names of their numeric leaves."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[name] = float(value)
        elif isinstance(value, dict):
            out.update(_numbers(value, f"{name}."))
    return out


def compare(session: Session, usecase_id: str, a_id: str, b_id: str) -> dict[str, Any]:
    """Metrics of two versions side by side with deltas (b - a), and what differs in their config."""
    a, b = get_version(session, usecase_id, a_id), get_version(session, usecase_id, b_id)
    ma, mb = _numbers(a.metrics), _numbers(b.metrics)
    rows = [
        {
            "metric": name,
            "a": ma.get(name),
            "b": mb.get(name),
            "delta": (mb[name] - ma[name]) if name in ma and name in mb else None,
        }
        for name in sorted(set(ma) | set(mb))
    ]
    keys = (
        "model_type",
        "backbone",
        "input_size",
        "class_names",
        "threshold",
        "pixel_threshold",
        "verdict_rule",
    )
    config = {
        k: {"a": a.config.get(k), "b": b.config.get(k)} for k in keys if a.config.get(k) != b.config.get(k)
    }
    return {"a": a, "b": b, "metrics": rows, "config_differences": config}


def scratch_root(portal: Portal) -> Path:
    """Where uploads are spooled on the portal's disk (never inside a served path)."""
    path = portal.settings.portal_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def scratch_dir(portal: Portal) -> Path:
    return Path(tempfile.mkdtemp(prefix="model-", dir=scratch_root(portal)))


def remove_scratch(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
