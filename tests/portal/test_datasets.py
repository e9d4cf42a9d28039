"""Datasets: versions from uploaded images + labels (GT, DDA, COCO, YOLO), the validation report,
stats and split, export, the contract functions, and that a version pins its images."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from dda.formats.loader import load_dataset
from dda.formats.synthetic import generate_synthetic_dataset
from dda.formats.validate import validate_manifest
from dda.portal.services import datasets as datasets_service
from tests.portal.conftest import PortalHarness
from tests.portal.data_support import DataCase, data_case, jpeg_bytes


def _synthetic(root: Path, count: int = 12) -> Path:
    return generate_synthetic_dataset(root, count=count, size=(64, 64), seed=3, progress=False)


def _upload_synthetic(case: DataCase, manifest: Path) -> None:
    root = manifest.parent
    for sub in ("images", "masks"):
        files = [(p.name, p.read_bytes()) for p in sorted((root / sub).iterdir())]
        response = case.upload(files, folder=f"synth/{sub}")
        assert response.status_code == 201, response.text


def _new_dataset(case: DataCase, name: str = "synth") -> str:
    response = case.harness.client.post(f"{case.base}/datasets", json={"name": name}, headers=case.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _create_version(case: DataCase, dataset_id: str, labels: bytes, **fields: object) -> object:
    form = {k: ([str(x) for x in v] if isinstance(v, list) else str(v)) for k, v in fields.items()}
    return case.harness.client.post(
        f"{case.base}/datasets/{dataset_id}/versions",
        data=form,
        files={"labels": ("labels", labels, "application/octet-stream")},
        headers=case.headers,
    )


def test_version_from_uploaded_images_and_gt_manifest(portal: PortalHarness, tmp_path: Path) -> None:
    case = data_case(portal)
    manifest = _synthetic(tmp_path / "synth")
    _upload_synthetic(case, manifest)
    dataset_id = _new_dataset(case)
    response = _create_version(
        case, dataset_id, manifest.read_bytes(), format="gt", images_folder="synth", seed=7
    )
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["number"] == 1 and version["image_count"] == 12
    assert version["report"]["ok"] and version["report"]["errors"] == 0
    stats = version["stats"]
    assert stats["classes"] == {"normal": 6, "anomaly": 6}
    assert stats["sizes"]["min_width"] == stats["sizes"]["max_width"] == 64
    assert stats["masks"]["images_with_mask"] == 6
    assert sum(stats["masks"]["pixels_per_class"].values()) == 6 * 64 * 64
    assert version["split"]["seed"] == 7
    assert sum(version["split"]["counts"].values()) == 12
    # The same labels and seed give the same split (seeded), in a second, immutable version.
    again = _create_version(
        case, dataset_id, manifest.read_bytes(), format="gt", images_folder="synth", seed=7
    )
    assert again.status_code == 201 and again.json()["number"] == 2
    items = lambda v: portal.client.get(  # noqa: E731
        f"{case.base}/datasets/{dataset_id}/versions/{v}/items", params={"limit": 100}, headers=case.headers
    ).json()["items"]
    assert [i["split"] for i in items(version["id"])] == [i["split"] for i in items(again.json()["id"])]

    # An image a version uses cannot be deleted.
    listing = case.browse("synth/images", limit=100)["images"]
    used = listing[0]["id"]
    refused = portal.client.delete(f"{case.base}/data/images/{used}", headers=case.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"

    # The materialised version is a manifest dda.ml (and `dda data validate`) reads directly.
    with portal.portal.session() as session:
        path = datasets_service.materialize_version(
            session, portal.portal, case.usecase_id, version["id"], tmp_path / "mat"
        )
    report = validate_manifest(path, progress=False)
    assert report.ok, [p.format() for p in report.sorted_problems]
    loaded = load_dataset(path, progress=False)
    assert len(loaded) == 12 and loaded.count_by_label() == {"normal": 6, "anomaly": 6}
    assert sum(1 for s in loaded.samples if s.mask_path is not None) == 6

    listed = portal.client.get(f"{case.base}/datasets", headers=case.headers).json()["items"]
    assert [(d["name"], d["versions"], d["latest_version"]) for d in listed] == [("synth", 2, 2)]


def test_labels_with_problems_answer_422_with_the_report(
    sqlite_portal: PortalHarness, tmp_path: Path
) -> None:
    case = data_case(sqlite_portal)
    manifest = _synthetic(tmp_path / "synth", count=4)
    _upload_synthetic(case, manifest)
    dataset_id = _new_dataset(case)
    lines = manifest.read_text().splitlines()
    first = json.loads(lines[0])
    first["source-ref"] = "s3://someone-elses-bucket/secret.jpg"  # never fetched by the server
    second = json.loads(lines[1])
    second["source-ref"] = "/etc/passwd"  # never opened
    third = json.loads(lines[2])
    third["source-ref"] = "images/not-uploaded.png"
    body = "\n".join([json.dumps(first), json.dumps(second), json.dumps(third), lines[3], "{not json"]) + "\n"
    response = _create_version(case, dataset_id, body.encode(), format="gt", images_folder="synth")
    assert response.status_code == 422, response.text
    report = response.json()["report"]
    assert not report["ok"]
    by_line = {p["line"]: p for p in report["problems"] if p["severity"] == "error"}
    assert set(by_line) >= {5}  # the JSON error is found before any file is looked at
    text = json.dumps(report)
    assert "/tmp" not in text and str(tmp_path) not in text
    # Fix the JSON: now each bad reference is named on its own line.
    body = "\n".join([json.dumps(first), json.dumps(second), json.dumps(third), lines[3]]) + "\n"
    response = _create_version(case, dataset_id, body.encode(), format="gt", images_folder="synth")
    assert response.status_code == 422
    report = response.json()["report"]
    by_line = {p["line"]: p["message"] for p in report["problems"] if p["severity"] == "error"}
    assert "someone-elses-bucket" in by_line[1] and "not in this use case" in by_line[1]
    assert "not in this use case" in by_line[2]
    assert "synth/images/not-uploaded.png" in by_line[3]
    assert 4 not in by_line
    assert "/tmp" not in json.dumps(report)


def test_export_round_trips_through_coco_and_yolo(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    case = data_case(sqlite_portal)
    manifest = _synthetic(tmp_path / "synth", count=6)
    _upload_synthetic(case, manifest)
    dataset_id = _new_dataset(case)
    v1 = _create_version(case, dataset_id, manifest.read_bytes(), format="gt", images_folder="synth").json()
    base = f"{case.base}/datasets/{dataset_id}/versions/{v1['id']}/export"
    zips = {}
    for fmt in ("gt", "dda", "coco", "yolo"):
        response = sqlite_portal.client.get(base, params={"format": fmt}, headers=case.headers)
        assert response.status_code == 200, (fmt, response.text)
        zips[fmt] = zipfile.ZipFile(io.BytesIO(response.content))
    gt_names = zips["gt"].namelist()
    assert "output.manifest" in gt_names and sum(n.startswith("images/") for n in gt_names) == 6
    assert "manifest.jsonl" in zips["dda"].namelist()
    coco_json = next(n for n in zips["coco"].namelist() if n.endswith(".json"))
    assert len(json.loads(zips["coco"].read(coco_json))["images"]) == 6
    assert "classes.txt" in zips["yolo"].namelist()

    # COCO back in: the images are already in the use case, under synth/images.
    coco = _create_version(
        case, dataset_id, zips["coco"].read(coco_json), format="coco", images_folder="synth/images"
    )
    assert coco.status_code == 201, coco.text
    assert coco.json()["stats"]["classes"]["anomaly"] == 3
    assert coco.json()["stats"]["masks"]["images_with_mask"] == 3
    # YOLO back in: a zip of labels/ and classes.txt over the same images.
    labels = io.BytesIO()
    with zipfile.ZipFile(labels, "w") as bundle:
        for name in zips["yolo"].namelist():
            if name.startswith("labels/") or name == "classes.txt":
                bundle.writestr(name, zips["yolo"].read(name))
    yolo = _create_version(case, dataset_id, labels.getvalue(), format="yolo", images_folder="synth/images")
    assert yolo.status_code == 201, yolo.text
    assert yolo.json()["stats"]["boxes"]["total"] >= 3
    assert yolo.json()["number"] == 3


def test_other_tenants_datasets_are_404(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    case = data_case(sqlite_portal, "mine")
    other = sqlite_portal.create_usecase(case.admin, "theirs")
    theirs = sqlite_portal.client.post(
        f"/api/v1/usecases/{other}/datasets", json={"name": "secret"}, headers=case.admin
    ).json()["id"]
    client = sqlite_portal.client
    assert client.get(f"{case.base}/datasets/{theirs}", headers=case.headers).status_code == 404
    assert client.get(f"{case.base}/datasets/{theirs}/versions", headers=case.headers).status_code == 404
    response = _create_version(case, theirs, b"{}\n", format="gt")
    assert response.status_code == 404
    assert client.get(f"/api/v1/usecases/{other}/datasets", headers=case.headers).status_code == 404
    with sqlite_portal.portal.session() as session, pytest.raises(Exception) as caught:
        datasets_service.materialize_version(session, sqlite_portal.portal, case.usecase_id, theirs, tmp_path)
    assert type(caught.value).__name__ == "NotFound"


def test_create_version_from_manifest_contract(portal: PortalHarness, tmp_path: Path) -> None:
    """What a labeling job calls with its output manifest (local files, s3 refs mapped)."""
    case = data_case(portal)
    manifest = _synthetic(tmp_path / "job", count=8)
    text = manifest.read_text().replace('"images/', '"s3://labeling-bucket/out/images/')
    mapped = manifest.with_name("mapped.manifest")
    mapped.write_text(text)
    with portal.portal.session() as session:
        version = datasets_service.create_version_from_manifest(
            session,
            portal.portal,
            case.usecase_id,
            "labeled",
            mapped,
            source="labeling:0b8e4c2a-7d1f-4e4a-9a53-1f0c2d3e4f5a",  # a job id: longer than a word
            map_prefix={"s3://labeling-bucket/out/": str(manifest.parent) + "/"},
        )
        version_id, number = version.id, version.number
    assert number == 1
    listed = portal.client.get(f"{case.base}/datasets", headers=case.headers).json()["items"]
    assert [d["name"] for d in listed] == ["labeled"]
    got = portal.client.get(
        f"{case.base}/datasets/{listed[0]['id']}/versions/{version_id}", headers=case.headers
    ).json()
    assert got["source"].startswith("labeling:") and got["stats"]["classes"] == {"normal": 4, "anomaly": 4}
    with portal.portal.session() as session:
        train = datasets_service.materialize_version(
            session, portal.portal, case.usecase_id, version_id, tmp_path / "mat", split="train"
        )
    assert train.name == "train.manifest"
    assert 0 < len(load_dataset(train, progress=False)) < 8


def test_duplicate_dataset_name_is_409_and_bad_fields_422(sqlite_portal: PortalHarness) -> None:
    case = data_case(sqlite_portal)
    dataset_id = _new_dataset(case, "one")
    again = sqlite_portal.client.post(f"{case.base}/datasets", json={"name": "one"}, headers=case.headers)
    assert again.status_code == 409
    bad = sqlite_portal.client.post(f"{case.base}/datasets", json={"name": "../x"}, headers=case.headers)
    assert bad.status_code == 422
    assert _create_version(case, dataset_id, b"{}\n", format="nope").status_code == 422
    assert _create_version(case, dataset_id, b"{}\n", format="gt", seed="x").status_code == 422
    assert _create_version(case, dataset_id, b"{}\n", format="gt", train=0.9).status_code == 422
    assert case.upload([("a.jpg", jpeg_bytes())]).status_code == 201
    traversal = _create_version(case, dataset_id, b"{}\n", format="coco", images_folder="../other")
    assert traversal.status_code == 422


def test_version_from_a_dda_manifest(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    case = data_case(sqlite_portal)
    generate_synthetic_dataset(tmp_path / "synth", count=4, size=(64, 64), write_dda=True, progress=False)
    manifest = tmp_path / "synth" / "dda.manifest"
    _upload_synthetic(case, manifest)
    dataset_id = _new_dataset(case)
    response = _create_version(case, dataset_id, manifest.read_bytes(), format="dda", images_folder="synth")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["report"]["format"] == "dda" and body["label_format"] == "dda"
    assert body["stats"]["classes"] == {"normal": 2, "anomaly": 2}
