"""Every package records its answer on a fixed image; a device re-runs it after install."""

from __future__ import annotations

from pathlib import Path

import pytest

from dda.packaging.golden import GOLDEN_IMAGE, check_golden
from dda.packaging.manifest import read_manifest
from dda.runtime.predictor import load_predictor


@pytest.mark.parametrize("model_type", ["classification", "segmentation", "anomaly"])
def test_package_carries_a_golden_answer_that_the_runtime_reproduces(
    packages: dict[str, Path], model_type: str
) -> None:
    package = packages[model_type]
    manifest = read_manifest(package)
    assert manifest.golden["image"] == GOLDEN_IMAGE
    assert GOLDEN_IMAGE in manifest.files  # hashed and signed like every other file
    with load_predictor(package) as predictor:
        result = check_golden(package, predictor)
    assert result.ok, result.reason


def test_another_model_fails_the_golden_check(packages: dict[str, Path]) -> None:
    """A package whose model was swapped for another answers differently: the check names it."""
    with load_predictor(packages["anomaly"]) as other:
        wrong = check_golden(
            packages["segmentation"], _Renamed(other, read_manifest(packages["segmentation"]))
        )
    assert not wrong.ok
    assert "golden" in wrong.reason


class _Renamed:
    """The anomaly model's predictor presented with the segmentation package's manifest."""

    def __init__(self, predictor: object, manifest: object) -> None:
        self._predictor = predictor
        self.manifest = manifest

    def predict(self, image: object, draw_overlay: bool = True) -> object:
        return self._predictor.predict(image, draw_overlay=draw_overlay)  # type: ignore[attr-defined]
