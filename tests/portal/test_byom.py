"""Bring your own model through the portal: inspect an external ONNX file, import it with the
confirmed spec, and show that the registered version runs through dda.ml export, dda.packaging and
dda.runtime with the same verdicts as running the ONNX file directly in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dda.core.signing import generate_keypair
from dda.ml.artifact import load_artifact
from dda.ml.export import export_trained
from dda.packaging import build_package
from dda.portal.permissions import Role
from dda.portal.services import registry
from dda.runtime import load_predictor
from tests.ml.onnx_models import (
    direct_outputs,
    direct_score,
    make_classifier,
    make_segmenter,
    sample_frames,
    threshold_between,
    to_onnx,
)
from tests.portal.conftest import PortalHarness

SIZE = (24, 32)


def setup(portal: PortalHarness) -> tuple[str, dict[str, str], dict[str, str]]:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, "byom")
    portal.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    return usecase_id, admin, portal.login("dana")


def inspect(portal: PortalHarness, usecase_id: str, headers: dict[str, str], data: bytes) -> Any:
    return portal.client.post(
        f"/api/v1/usecases/{usecase_id}/models/onnx/inspect", content=data, headers=headers
    )


def do_import(portal: PortalHarness, usecase_id: str, headers: dict[str, str], **body: Any) -> Any:
    return portal.client.post(f"/api/v1/usecases/{usecase_id}/models/onnx/import", json=body, headers=headers)


def runtime_verdicts(
    portal: PortalHarness, usecase_id: str, version_id: str, frames: list[np.ndarray], tmp_path: Path
) -> list[str]:
    """Fetch the registered artifact, export it, build a signed package and run it in dda.runtime."""
    p = portal.portal
    with p.session() as session:
        artifact = registry.fetch_artifact(session, p, usecase_id, version_id, tmp_path / "fetched")
    exported = export_trained(load_artifact(artifact), "x86_64-cpu", tmp_path / "export")
    assert exported.report.passed
    private, public = generate_keypair()
    package = build_package(
        tmp_path / "export", None, tmp_path / "package", private, name="byom", version="1.0.0"
    )
    with load_predictor(package, "onnxruntime", trusted_keys=[public]) as predictor:
        return [predictor.predict(frame).verdict for frame in frames]


@pytest.mark.slow
def test_imported_classifier_runs_in_the_runtime_like_the_raw_file(
    portal: PortalHarness, tmp_path: Path
) -> None:
    usecase_id, _, dana = setup(portal)
    raw = to_onnx(make_classifier(classes=3), (1, 3, *SIZE))
    inspected = inspect(portal, usecase_id, dana, raw)
    assert inspected.status_code == 200, inspected.text
    body = inspected.json()
    assert body["graph"]["inputs"][0]["shape"] == [1, 3, *SIZE] and body["graph"]["opset"] == 17
    assert {"input_size", "layout", "output_kind"} <= set(body["inferred"])
    assert {"mean", "std", "class_names"} <= set(body["assumed"])
    # The person confirms the spec: their class order (normal in the middle) and a threshold.
    frames = sample_frames(12, SIZE)
    spec = {**body["spec"], "class_names": ["scratch", "good", "dent"], "normal_class": "good"}
    spec["threshold"] = threshold_between([direct_score(raw, spec, f) for f in frames])
    created = do_import(portal, usecase_id, dana, import_id=body["import_id"], name="vendor-cls", spec=spec)
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["source"] == "onnx_import" and version["class_names"] == ["good", "scratch", "dent"]
    assert version["lineage"]["onnx_opset"] == 17 and version["backbone"] == "onnx-import"
    expected = ["anomaly" if direct_score(raw, spec, f) > spec["threshold"] else "normal" for f in frames]
    assert len(set(expected)) == 2
    assert runtime_verdicts(portal, usecase_id, version["id"], frames, tmp_path) == expected
    # The staged upload is consumed: importing it again is a 404.
    again = do_import(portal, usecase_id, dana, import_id=body["import_id"], name="vendor-cls", spec=spec)
    assert again.status_code == 404


@pytest.mark.slow
def test_imported_segmenter_runs_in_the_runtime_like_the_raw_file(
    sqlite_portal: PortalHarness, tmp_path: Path
) -> None:
    portal = sqlite_portal
    usecase_id, _, dana = setup(portal)
    raw = to_onnx(make_segmenter(channels=2), (1, 3, *SIZE), output_names=("mask",))
    body = inspect(portal, usecase_id, dana, raw).json()
    assert body["spec"]["model_type"] == "segmentation" and body["spec"]["mask_output"] == "mask"
    frames = sample_frames(12, SIZE, seed=3)
    spec = {**body["spec"], "mask_class_names": ["background", "crack"]}
    peaks = [direct_score(raw, spec, f) for f in frames]
    spec["pixel_threshold"] = threshold_between(peaks)
    created = do_import(portal, usecase_id, dana, import_id=body["import_id"], name="vendor-seg", spec=spec)
    assert created.status_code == 201, created.text
    expected = ["anomaly" if peak > spec["pixel_threshold"] else "normal" for peak in peaks]
    assert len(set(expected)) == 2
    assert runtime_verdicts(portal, usecase_id, created.json()["id"], frames, tmp_path) == expected
    assert direct_outputs(raw, spec, frames[0]).shape == (1, 2, *SIZE)


def test_validation_names_what_does_not_fit(make_portal) -> None:  # type: ignore[no-untyped-def]
    portal: PortalHarness = make_portal(None, max_model_upload_mb=1)
    usecase_id, admin, dana = setup(portal)
    junk = inspect(portal, usecase_id, dana, b"definitely not a protobuf" * 4)
    assert junk.status_code == 422 and "not an ONNX model" in junk.json()["detail"]
    assert inspect(portal, usecase_id, dana, b"\0" * ((1 << 20) + 10)).status_code == 413

    dynamic = to_onnx(make_classifier(), (1, 3, *SIZE), dynamic={"pixel_values": {2: "h", 3: "w"}})
    body = inspect(portal, usecase_id, dana, dynamic).json()
    assert any("declare input_size" in problem for problem in body["problems"])
    spec = {**body["spec"], "class_names": ["normal", "a", "b", "c"], "normal_class": "normal"}
    refused = do_import(portal, usecase_id, dana, import_id=body["import_id"], name="x", spec=spec)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "declare input_size" in detail and "3 values but 4 class names" in detail
    unknown = do_import(
        portal, usecase_id, dana, import_id=body["import_id"], name="x", spec={**spec, "colour": "blue"}
    )
    assert unknown.status_code == 422 and "colour" in unknown.json()["detail"]

    # Another use case cannot import this use case's staged upload.
    other = portal.create_usecase(admin, "other")
    elsewhere = do_import(portal, other, admin, import_id=body["import_id"], name="x", spec=spec)
    assert elsewhere.status_code == 404
    assert portal.client.get(f"/api/v1/usecases/{usecase_id}/models", headers=dana).json()["items"] == []


@pytest.mark.slow
def test_import_is_evaluated_on_a_dataset_version(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    """With a dataset version named, the imported model is evaluated by dda.ml before it is
    registered (needs the data area's contract functions; skipped where they are absent)."""
    datasets = pytest.importorskip("dda.portal.services.datasets")
    if not hasattr(datasets, "create_version_from_manifest"):
        pytest.skip("dda.portal.services.datasets has no create_version_from_manifest yet")
    from dda.formats.writers import write_dda_manifest
    from tests.ml.test_train import make_disc_dataset

    portal = sqlite_portal
    usecase_id, _, dana = setup(portal)
    manifest = write_dda_manifest(
        make_disc_dataset(tmp_path / "discs", n_per_class=3, size=40), tmp_path / "m.jsonl"
    )
    p = portal.portal
    with p.session() as session:
        dataset_version_id = datasets.create_version_from_manifest(
            session, p, usecase_id, "discs", manifest, source="test"
        ).id
    raw = to_onnx(make_classifier(classes=2), (1, 3, *SIZE))
    body = inspect(portal, usecase_id, dana, raw).json()
    created = do_import(
        portal,
        usecase_id,
        dana,
        import_id=body["import_id"],
        name="vendor",
        spec=body["spec"],
        dataset_version_id=dataset_version_id,
    )
    assert created.status_code == 201, created.text
    version = created.json()
    assert version["metrics"]["num_images"] == 6 and "auroc" in version["metrics"]["image"]
    assert version["lineage"]["dataset_version_id"] == dataset_version_id
