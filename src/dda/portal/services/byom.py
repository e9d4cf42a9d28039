"""Bring your own model: inspect an uploaded ONNX file, then import it with the confirmed spec.

Step 1, ``inspect``: the file is checked (ONNX at all, size), kept in the use case's store under
``models/_imports/<id>.onnx`` and its inferred spec (input layout/size, outputs, logits or
probabilities) is returned with what was only assumed (normalisation, class names) and what does
not fit. Step 2, ``import``: the confirmed spec is checked again, the graph is wrapped into the model
contract by :mod:`dda.ml.onnx_import` and registered as a version like any trained model (optionally
evaluated on a dataset version first, so the version carries metrics).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dda.core.errors import NotFound
from dda.portal.context import Portal
from dda.portal.db import ModelVersion
from dda.portal.services import registry

IMPORTS_PREFIX = "models/_imports"
_IMPORT_ID = re.compile(r"^[0-9a-f]{32}$")


def _key(import_id: str) -> str:
    if not _IMPORT_ID.match(import_id):
        raise NotFound("no such ONNX upload", hint="upload the file to .../models/onnx/inspect first")
    return f"{IMPORTS_PREFIX}/{import_id}.onnx"


def inspect_upload(session: Session, portal: Portal, usecase_id: str, path: Path) -> dict[str, Any]:
    """Inspect an uploaded ONNX file and keep it for the import; InvalidInput when it is not ONNX."""
    from dda.ml.onnx_import import inspect_onnx

    max_bytes = portal.settings.portal.max_model_upload_mb << 20
    data = path.read_bytes()
    inspection = inspect_onnx(data, max_bytes)
    import_id = uuid.uuid4().hex
    registry.usecase_store(session, portal, usecase_id).put_bytes(
        _key(import_id), data, content_type="application/octet-stream"
    )
    assert inspection.graph is not None
    return {
        "import_id": import_id,
        "sha256": hashlib.sha256(data).hexdigest(),
        "graph": inspection.graph.as_dict(),
        "spec": inspection.spec,
        "inferred": inspection.inferred,
        "assumed": inspection.assumed,
        "problems": inspection.problems,
    }


def _staged_bytes(session: Session, portal: Portal, usecase_id: str, import_id: str) -> bytes:
    store = registry.usecase_store(session, portal, usecase_id)
    key = _key(import_id)
    if not store.exists(key):
        raise NotFound("no such ONNX upload (or it was imported already)", hint="inspect the file again")
    return store.get_bytes(key)


def evaluate_on_dataset(
    session: Session, portal: Portal, usecase_id: str, artifact: Path, dataset_version_id: str, work: Path
) -> dict[str, Any]:
    """Metrics of an artifact on a dataset version of the use case (dda.ml evaluation)."""
    from dda.formats.loader import load_dataset
    from dda.ml.artifact import load_artifact
    from dda.ml.training.evaluate import evaluate_model
    from dda.portal.services import datasets

    manifest = datasets.materialize_version(session, portal, usecase_id, dataset_version_id, work / "data")
    return evaluate_model(load_artifact(artifact), load_dataset(manifest), progress=False)


def import_upload(
    session: Session,
    portal: Portal,
    usecase_id: str,
    import_id: str,
    model_name: str,
    spec_data: dict[str, Any],
    *,
    actor_id: str | None,
    description: str = "",
    dataset_version_id: str | None = None,
) -> ModelVersion:
    """Wrap the staged ONNX file with the confirmed spec and register it as a new version."""
    from dda.ml.artifact import save_onnx_artifact
    from dda.ml.onnx_import import import_onnx, parse_spec

    spec = parse_spec(spec_data)
    data = _staged_bytes(session, portal, usecase_id, import_id)
    wrapped, config = import_onnx(data, spec, max_bytes=portal.settings.portal.max_model_upload_mb << 20)
    with tempfile.TemporaryDirectory(prefix="dda-onnx-import-", dir=registry.scratch_root(portal)) as tmp:
        work = Path(tmp)
        artifact = save_onnx_artifact(work / registry.ARTIFACT_FILE, wrapped, config, {})
        lineage: dict[str, Any] = {
            "onnx_sha256": hashlib.sha256(data).hexdigest(),
            "onnx_opset": config["onnx_import"]["opset"],
            "onnx_producer": config["onnx_import"]["producer"],
            "code_version": {"dda": None, "git_commit": None},
        }
        if dataset_version_id:
            metrics = evaluate_on_dataset(session, portal, usecase_id, artifact, dataset_version_id, work)
            artifact = save_onnx_artifact(work / registry.ARTIFACT_FILE, wrapped, config, metrics)
            lineage["dataset_version_id"] = dataset_version_id
            lineage["evaluated_on"] = dataset_version_id
        version = registry.register_version(
            session,
            portal,
            usecase_id,
            model_name,
            artifact,
            source="onnx_import",
            lineage=lineage,
            created_by=actor_id,
            description=description,
        )
    registry.usecase_store(session, portal, usecase_id).delete(_key(import_id))
    return version
