"""Model registry: the contract functions (register_version, fetch_artifact, add_package) and the
API (upload, list, metrics, plots, stage, compare, delete) on SQLite and PostgreSQL, with a real
model.tar.gz from a tiny `dda.ml` training run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from dda.core.errors import Conflict, NotFound
from dda.portal.db import AuditEvent
from dda.portal.permissions import Role
from dda.portal.services import registry
from tests.portal.conftest import PortalHarness
from tests.portal.registry_helpers import shared_tiny_artifact, with_metrics

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("registry-models")
    first = shared_tiny_artifact()
    second = with_metrics(first, root / "v2.tar.gz", image={"auroc": 0.5, "f1": 0.25})
    return {"v1": first, "v2": second}


def setup_usecase(portal: PortalHarness, name: str = "cookies") -> tuple[str, dict[str, str]]:
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    usecase_id = portal.create_usecase(admin, name)
    return usecase_id, admin


def test_contract_functions_register_fetch_and_record_packages(
    portal: PortalHarness, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    usecase_id, _ = setup_usecase(portal)
    p = portal.portal
    with p.session() as session:
        version = registry.register_version(
            session,
            p,
            usecase_id,
            "discs",
            artifacts["v1"],
            source="trained",
            lineage={"dataset_version_id": "dsv-1", "job_id": "job-7"},
        )
        version_id = version.id
        assert (
            version.version == 1 and version.stage == "candidate" and version.model_type == "classification"
        )
        assert "image" in version.metrics and "roc_curve" in version.plots
        assert version.lineage["dataset_version_id"] == "dsv-1"
        assert version.lineage["code_version"]["dda"]
        assert version.lineage["training_parameters"]["epochs"] == 1
        again = registry.register_version(
            session, p, usecase_id, "discs", artifacts["v2"], source="trained", lineage={}
        )
        assert again.version == 2 and again.model_id == version.model_id
    with p.session() as session:
        fetched = registry.fetch_artifact(session, p, usecase_id, version_id, tmp_path / "out")
        digest = hashlib.sha256(fetched.read_bytes()).hexdigest()
        assert digest == hashlib.sha256(artifacts["v1"].read_bytes()).hexdigest()
        package = registry.add_package(
            session,
            p,
            usecase_id,
            version_id,
            target="x86_64-cpu",
            precision="fp32",
            package_key="packages/discs/1/x86_64-cpu.tar.gz",
            sha256="a" * 64,
            report={"parity": "passed"},
        )
        rebuilt = registry.add_package(
            session,
            p,
            usecase_id,
            version_id,
            target="x86_64-cpu",
            precision="fp32",
            package_key="packages/discs/1/x86_64-cpu-b.tar.gz",
            sha256="b" * 64,
            report={},
        )
        assert rebuilt.id == package.id and rebuilt.sha256 == "b" * 64
        with pytest.raises(NotFound):
            registry.fetch_artifact(session, p, "another-usecase", version_id, tmp_path / "x")


def test_api_upload_stage_compare_packages_delete(portal: PortalHarness, artifacts: dict[str, Path]) -> None:
    usecase_id, admin = setup_usecase(portal)
    portal.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    dana = portal.login("dana")
    base = f"/api/v1/usecases/{usecase_id}/models"
    ids = []
    for key in ("v1", "v2"):
        response = portal.client.post(
            f"{base}/upload",
            params={"name": "discs", "description": key},
            content=artifacts[key].read_bytes(),
            headers={**dana, "Content-Type": "application/gzip"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
        assert response.json()["source"] == "upload" and response.json()["stage"] == "candidate"
    v1, v2 = ids
    models = portal.client.get(base, headers=dana).json()["items"]
    assert [(m["name"], m["latest_version"]["version"]) for m in models] == [("discs", 2)]
    versions = portal.client.get(
        f"{base}/{models[0]['id']}/versions", params={"limit": 1}, headers=dana
    ).json()
    assert [v["version"] for v in versions["items"]] == [2] and versions["next_cursor"] == "2"

    metrics = portal.client.get(f"{base}/versions/{v2}/metrics", headers=dana).json()
    assert metrics["image"] == {"auroc": 0.5, "f1": 0.25}
    plot = portal.client.get(f"{base}/versions/{v1}/plots/roc_curve.png", headers=dana)
    assert plot.status_code == 200 and plot.content.startswith(b"\x89PNG")
    assert portal.client.get(f"{base}/versions/{v1}/plots/nope", headers=dana).status_code == 404
    download = portal.client.get(f"{base}/versions/{v1}/artifact", headers=dana)
    assert download.content == artifacts["v1"].read_bytes()

    # Exactly one production version: promoting v2 demotes v1 (to staging by default).
    assert (
        portal.client.put(
            f"{base}/versions/{v1}/stage", json={"stage": "production"}, headers=dana
        ).status_code
        == 200
    )
    promoted = portal.client.put(
        f"{base}/versions/{v2}/stage", json={"stage": "production", "reason": "better"}, headers=dana
    ).json()
    assert [(c["version"], c["from"], c["to"]) for c in promoted["changed"]] == [
        (2, "candidate", "production"),
        (1, "production", "staging"),
    ]
    detail = portal.client.get(f"{base}/versions/{v1}", headers=dana).json()
    assert [(h["from_stage"], h["to_stage"]) for h in detail["history"]] == [
        (None, "candidate"),
        ("candidate", "production"),
        ("production", "staging"),
    ]
    assert (
        portal.client.put(
            f"{base}/versions/{v2}/stage", json={"stage": "production"}, headers=dana
        ).status_code
        == 409
    )
    assert (
        portal.client.put(f"{base}/versions/{v2}/stage", json={"stage": "gold"}, headers=dana).status_code
        == 422
    )

    compared = portal.client.get(f"{base}/compare", params={"a": v1, "b": v2}, headers=dana).json()
    rows = {r["metric"]: r for r in compared["metrics"]}
    assert rows["image.auroc"]["b"] == 0.5
    assert rows["image.auroc"]["delta"] == pytest.approx(0.5 - rows["image.auroc"]["a"])

    # Delete: a DataScientist may not; production and packaged versions are refused (409).
    assert portal.client.delete(f"{base}/versions/{v1}", headers=dana).status_code == 403
    assert portal.client.delete(f"{base}/versions/{v2}", headers=admin).status_code == 409
    p = portal.portal
    with p.session() as session:
        registry.add_package(
            session,
            p,
            usecase_id,
            v1,
            target="openvino",
            precision="fp32",
            package_key="packages/discs-1-openvino.tar.gz",
            sha256="c" * 64,
            report={},
        )
    listed = portal.client.get(f"{base}/versions/{v1}/packages", headers=dana).json()
    assert [(x["target"], x["precision"]) for x in listed] == [("openvino", "fp32")]
    refused = portal.client.delete(f"{base}/versions/{v1}", headers=admin)
    assert refused.status_code == 409 and "openvino" in refused.json()["detail"]
    with p.session() as session:
        actions = [r.action for r in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions.count("model.upload") == 2 and actions.count("model.stage") == 3


def test_delete_unpackaged_version_removes_its_objects(
    portal: PortalHarness, artifacts: dict[str, Path]
) -> None:
    usecase_id, admin = setup_usecase(portal)
    p = portal.portal
    with p.session() as session:
        version = registry.register_version(
            session, p, usecase_id, "discs", artifacts["v1"], source="trained", lineage={}
        )
        version_id, prefix = version.id, registry.version_prefix(version)
        store = registry.usecase_store(session, p, usecase_id)
    assert store.list(prefix + "/")
    base = f"/api/v1/usecases/{usecase_id}/models"
    assert portal.client.delete(f"{base}/versions/{version_id}", headers=admin).status_code == 204
    assert store.list(prefix + "/") == []
    assert portal.client.get(base, headers=admin).json()["items"] == []
    with p.session() as session, pytest.raises(NotFound):
        registry.get_version(session, usecase_id, version_id)


def test_other_tenants_ids_answer_404(sqlite_portal: PortalHarness, artifacts: dict[str, Path]) -> None:
    portal = sqlite_portal
    mine, admin = setup_usecase(portal, "mine")
    theirs = portal.create_usecase(admin, "theirs")
    p = portal.portal
    with p.session() as session:
        foreign = registry.register_version(
            session, p, theirs, "secret", artifacts["v1"], source="trained", lineage={}
        )
        foreign_id, foreign_model = foreign.id, foreign.model_id
    portal.make_user("vic", role=Role.VIEWER, usecase_id=mine)
    vic = portal.login("vic")
    base = f"/api/v1/usecases/{mine}/models"
    for path in (
        f"/versions/{foreign_id}",
        f"/versions/{foreign_id}/artifact",
        f"/{foreign_model}",
        f"/versions/{foreign_id}/plots/roc_curve",
    ):
        response = portal.client.get(base + path, headers=vic)
        assert response.status_code == 404, path
    assert (
        portal.client.get(
            f"{base}/compare", params={"a": foreign_id, "b": foreign_id}, headers=vic
        ).status_code
        == 404
    )
    # No role in the other use case: 404 for the use case itself (no existence leak).
    assert portal.client.get(f"/api/v1/usecases/{theirs}/models", headers=vic).status_code == 404
    # A Viewer reads but may not upload or change stages.
    upload = portal.client.post(f"{base}/upload", params={"name": "x"}, content=b"x", headers=vic)
    assert upload.status_code == 403
    with p.session() as session, pytest.raises(Conflict):
        registry.set_stage(session, theirs, foreign_id, "candidate", actor_id=None)


def test_registry_on_s3_storage(
    sqlite_portal: PortalHarness,
    artifacts: dict[str, Path],
    moto_server: str,
    s3_bucket_name: str,
    tmp_path: Path,
) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=s3_bucket_name)
    portal = sqlite_portal
    portal.make_user("root", admin=True)
    admin = portal.login("root")
    s3 = {
        "endpoint_url": moto_server,
        "bucket": s3_bucket_name,
        "prefix": "plant1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    usecase_id = portal.create_usecase(admin, "on-s3", s3=s3)
    response = portal.client.post(
        f"/api/v1/usecases/{usecase_id}/models/upload",
        params={"name": "discs"},
        content=artifacts["v1"].read_bytes(),
        headers=admin,
    )
    assert response.status_code == 201, response.text
    p = portal.portal
    with p.session() as session:
        path = registry.fetch_artifact(session, p, usecase_id, response.json()["id"], tmp_path)
    assert path.read_bytes() == artifacts["v1"].read_bytes()
    keys = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).list_objects_v2(Bucket=s3_bucket_name)["Contents"]
    assert any(k["Key"].startswith("plant1/models/") and k["Key"].endswith("model.tar.gz") for k in keys)


def test_the_database_keeps_one_production_version(portal: PortalHarness, artifacts: dict[str, Path]) -> None:
    from sqlalchemy.exc import IntegrityError

    usecase_id, _ = setup_usecase(portal)
    p = portal.portal
    with p.session() as session:
        first = registry.register_version(
            session, p, usecase_id, "discs", artifacts["v1"], source="trained", lineage={}
        )
        second = registry.register_version(
            session, p, usecase_id, "discs", artifacts["v2"], source="trained", lineage={}
        )
        registry.set_stage(session, usecase_id, first.id, "production", actor_id=None)
        second_id = second.id
    with pytest.raises(IntegrityError), p.session() as session:  # bypassing the service is refused too
        row = registry.get_version(session, usecase_id, second_id)
        row.stage = "production"
        session.flush()
