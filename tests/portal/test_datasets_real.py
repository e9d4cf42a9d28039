"""The real cookie photos through the API into a dataset version, and a tiny training run on a
materialised version."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from dda.formats.loader import load_dataset
from dda.formats.synthetic import generate_synthetic_dataset
from dda.ml.training import TrainOptions, train_model
from dda.portal.services import datasets as datasets_service
from tests.portal.conftest import PortalHarness
from tests.portal.data_support import data_case

COOKIE_BUCKET = "s3://dda-cookie-dataset-571264418424/cookies/"


@pytest.mark.slow
def test_real_cookie_photos_become_a_dataset_version(sqlite_portal: PortalHarness, cookies_dir: Path) -> None:
    case = data_case(sqlite_portal)
    files = cookies_dir / "dataset-files"
    # Photos as one zip (as a user would drag a folder), masks as a multipart batch.
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w") as bundle:
        for path in sorted((files / "training-images").iterdir()):
            bundle.write(path, path.name)
    landed = case.upload(
        [("training-images.zip", photos.getvalue())], folder="cookies/dataset-files/training-images"
    )
    assert landed.status_code == 201, landed.text
    assert landed.json()["counts"]["stored"] == 63
    masks = [(p.name, p.read_bytes()) for p in sorted((files / "mask-images").iterdir())]
    assert case.upload(masks, folder="cookies/dataset-files/mask-images").status_code == 201

    dataset = sqlite_portal.client.post(
        f"{case.base}/datasets", json={"name": "cookies"}, headers=case.headers
    )
    manifest = (files / "manifests" / "train_segmentation.manifest").read_bytes()
    version = sqlite_portal.client.post(
        f"{case.base}/datasets/{dataset.json()['id']}/versions",
        data={"format": "gt", "map": [f"{COOKIE_BUCKET}=cookies"], "seed": "1"},
        files={"labels": ("train_segmentation.manifest", manifest)},
        headers=case.headers,
    )
    assert version.status_code == 201, version.text
    body = version.json()
    assert body["report"]["ok"], body["report"]["problems"][:3]
    stats = body["stats"]
    assert stats["images"] == 63
    assert stats["classes"] == {"normal": 31, "anomaly": 32}
    assert stats["sizes"]["min_width"] == 576 and stats["sizes"]["max_height"] == 768
    # Normal photos share an empty dummy mask, which means "no defect": only the cracked ones have masks.
    assert stats["masks"]["images_with_mask"] == 32
    assert stats["masks"]["classes"][1:] == ["cracked"]
    assert stats["masks"]["pixels_per_class"]["cracked"] > 0
    assert sum(stats["splits"]["test"].values()) == round(31 * 0.15) + round(32 * 0.15)


@pytest.mark.slow
def test_a_materialised_version_trains_with_dda_ml(sqlite_portal: PortalHarness, tmp_path: Path) -> None:
    case = data_case(sqlite_portal)
    manifest = generate_synthetic_dataset(tmp_path / "synth", count=16, size=(64, 64), seed=5, progress=False)
    with sqlite_portal.portal.session() as session:
        version = datasets_service.create_version_from_manifest(
            session, sqlite_portal.portal, case.usecase_id, "synth", manifest, source="labeling"
        )
        path = datasets_service.materialize_version(
            session, sqlite_portal.portal, case.usecase_id, version.id, tmp_path / "mat"
        )
    dataset = load_dataset(path, progress=False)
    assert dataset.has_masks
    options = TrainOptions(input_size=(64, 64), epochs=1, batch_size=8, pretrained=False, augment=False)
    result = train_model(dataset, "segmentation", tmp_path / "model.tar.gz", options=options, progress=False)
    assert result.artifact_path.is_file() and result.epochs_run == 1
