"""History export -> `dda data validate` -> `dda train`: the exported masks keep their defect
pixels (the colour map once listed the background twice, so every defect pixel read as
background), and a result an operator relabelled to normal exports an empty mask, not the
model's predicted defect.

The results are stored by the station's real result store; their predictions carry the true masks
of synthetic cookie photos (what a perfect segmentation model would predict), so the test knows
which pixels must survive the round trip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from dda.cli.main import app as cli
from dda.core.safe_image import encode_png
from dda.formats.manifest import parse_manifest
from dda.formats.masks import colored_mask_to_ids
from dda.formats.synthetic import product_mask_classes, render_sample
from dda.runtime.types import Prediction
from dda.station.plugins.sources.base import Frame
from dda.station.services.result_store import PendingResult, ResultContext

SIZE = (96, 128)


def _store(station: object, count: int) -> list[tuple[int, np.ndarray]]:
    """``count`` results (every other one defective); returns (result id, true mask) pairs."""
    rng = np.random.default_rng(3)
    classes = product_mask_classes("cookie")  # ["background", ...]: as a package's mask_labels
    items, masks = [], []
    for index in range(count):
        defect = index % 2 == 0
        image, mask = render_sample(rng, "cookie", defect, SIZE)
        prediction = Prediction(
            verdict="anomaly" if defect else "normal",
            label=classes[int(mask.max())] if defect else "normal",
            confidence=0.9,
            anomaly_score=0.9 if defect else 0.1,
            threshold=0.5,
            mask=mask,
            anomaly_map=None,
            class_areas={},
            overlay=image,
            model_name="seg",
            model_version="1",
        )
        frame = Frame(image=image, encoded=encode_png(image), encoded_format="png")
        items.append(PendingResult(frame, prediction, ResultContext("test"), {}, classes))
        masks.append(mask)
    rows = station.store.save_results(items)  # type: ignore[attr-defined]
    return [(row.id, mask) for row, mask in zip(rows, masks, strict=True)]


@pytest.mark.slow
def test_export_validates_trains_and_keeps_masks(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    stored = _store(client.app.state.station, 8)  # type: ignore[attr-defined]
    relabelled = stored[2][0]  # a defective prediction an operator says is a good part
    review = client.patch(
        f"/api/v1/results/{relabelled}", json={"human_classification": "normal"}, headers=auth
    )
    assert review.status_code == 200

    exported = client.post("/api/v1/results/export", json={}, headers=auth)
    assert exported.status_code == 200, exported.text
    folder = tmp_path / "export"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        archive.extractall(folder)
    manifest = folder / "manifest.jsonl"

    runner = CliRunner()
    validated = runner.invoke(cli, ["data", "validate", str(manifest)])
    assert validated.exit_code == 0, validated.output

    parsed = parse_manifest(manifest)
    truth = dict(stored)
    names = np.asarray(product_mask_classes("cookie"))
    id_to_name = {i: n for n, i in parsed.mask_classes.name_to_id().items()}
    by_id = {int(r.data["dda-classification-metadata"]["dda-result-id"]): r for r in parsed.records}
    for result_id, record in by_id.items():
        assert record.mask_ref is not None
        with Image.open(folder / record.mask_ref) as image:
            ids = colored_mask_to_ids(image, record.colors, parsed.mask_classes.name_to_id()).ids
        expected = np.zeros_like(truth[result_id]) if result_id == relabelled else truth[result_id]
        got = np.vectorize(lambda i: id_to_name.get(int(i), "background").lower())(ids)
        assert np.array_equal(got, np.char.lower(names[expected])), (
            f"result {result_id}: mask classes changed"
        )
    assert by_id[relabelled].data["dda-classification"] == 0

    model = tmp_path / "model.tar.gz"
    trained = runner.invoke(
        cli,
        ["train", str(manifest), "--type", "segmentation", "--epochs", "1", "--input-size", "64x64",
         "--out", str(model), "--no-progress"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert model.is_file()


def test_lines_stored_before_the_fix_export_with_a_repaired_colour_map() -> None:
    from dda.formats.masks import color_map_for
    from dda.station.services.results import repair_color_map

    legacy = color_map_for(["background", "background", "crack", "chip"])  # what the old store wrote
    repaired = repair_color_map(legacy)
    assert [repaired[k]["class-name"] for k in ("0", "1", "2")] == ["BACKGROUND", "crack", "chip"]
    assert repaired["1"]["hex-color"] == legacy["1"]["hex-color"]  # id 1 keeps its colour, now named
    good = color_map_for(["background", "crack"])
    assert repair_color_map(good) == good
