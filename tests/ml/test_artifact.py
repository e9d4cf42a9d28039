"""model.tar.gz: round trip, folder form, and refusal of unsafe or broken archives."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path
from typing import Any

import pytest
import torch

from dda.core.errors import InvalidInput, NotFound
from dda.ml.artifact import label_map, load_artifact, save_artifact
from dda.ml.backbones import IMAGENET_MEAN, IMAGENET_STD
from dda.ml.models import build_core_module


def config_for(model_type: str) -> dict[str, Any]:
    return {
        "model_type": model_type,
        "backbone": "mobilenet_v2",
        "input_size": [64, 48],
        "class_names": ["normal", "scratch", "dent"],
        "mask_class_names": ["background", "scratch", "dent"] if model_type == "segmentation" else None,
        "threshold": 0.42,
        "verdict_rule": "cls_or_seg",
        "pixel_threshold": 0.42,
        "min_defect_area_pct": 0.1,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "dataset_id": "ab" * 32,
        "training_id": "7d0b5c1e-0000-4000-8000-000000000000",
        "created": "2026-01-01T00:00:00+00:00",
        "method": None,
    }


@pytest.mark.parametrize("model_type", ["classification", "segmentation"])
def test_round_trip_restores_weights_config_metrics_and_plots(model_type: str, tmp_path: Path) -> None:
    config = config_for(model_type)
    torch.manual_seed(0)
    module = build_core_module(config).eval()
    plots = {"training_curves": b"\x89PNG fake", "examples.png": b"\x89PNG other"}
    path = save_artifact(tmp_path / "model.tar.gz", module, config, {"image": {"f1": 0.9}}, plots)

    with tarfile.open(path) as tar:
        names = set(tar.getnames())
    assert {"weights.pt", "config.json", "label_map.json", "metrics.json"} <= names
    assert {"plots/training_curves.png", "plots/examples.png"} <= names

    loaded = load_artifact(path)
    assert loaded.config["threshold"] == 0.42 and loaded.config["class_names"] == config["class_names"]
    assert loaded.metrics == {"image": {"f1": 0.9}}
    assert loaded.plots == {"training_curves": b"\x89PNG fake", "examples": b"\x89PNG other"}
    assert not loaded.module.training
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        expected, actual = module(x), loaded.module(x)
    torch.testing.assert_close(actual, expected)

    folder = tmp_path / "extracted"
    with tarfile.open(path) as tar:
        tar.extractall(folder, filter="data")
    assert load_artifact(folder).config == loaded.config


def test_label_map_names_every_class() -> None:
    mapping = label_map(config_for("segmentation"))
    assert mapping["classes"] == {"0": "normal", "1": "scratch", "2": "dent"}
    assert mapping["mask_classes"]["2"] == "dent"


def _tar_with(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_pickled_code_in_weights_is_refused(tmp_path: Path) -> None:
    """weights_only=True: a checkpoint that would run code when unpickled is rejected, not executed."""
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    evil = io.BytesIO()
    torch.save({"x": Exploit()}, evil, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    config = json.dumps(config_for("classification")).encode()
    path = _tar_with(tmp_path / "evil.tar.gz", {"config.json": config, "weights.pt": evil.getvalue()})
    with pytest.raises(InvalidInput, match="safely"):
        load_artifact(path)
    assert not marker.exists()


def test_links_and_traversal_members_are_never_extracted(tmp_path: Path) -> None:
    module = build_core_module(config_for("classification"))
    good = save_artifact(tmp_path / "good.tar.gz", module, config_for("classification"), {})
    hostile = tmp_path / "hostile.tar.gz"
    with tarfile.open(good) as src, tarfile.open(hostile, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        escape = tarfile.TarInfo("../../escape.txt")
        escape.size = 3
        dst.addfile(escape, io.BytesIO(b"bad"))
        link = tarfile.TarInfo("plots/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        dst.addfile(link)
    with pytest.raises(InvalidInput, match="not a regular file"):
        load_artifact(hostile)
    assert not (tmp_path.parent.parent / "escape.txt").exists()


def test_broken_archives_are_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_artifact(tmp_path / "missing.tar.gz")
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a tarball")
    with pytest.raises(InvalidInput, match="not a readable model archive") as excinfo:
        load_artifact(garbage)
    assert "dda train" in (excinfo.value.hint or "")
    no_weights = _tar_with(tmp_path / "nw.tar.gz", {"config.json": b"{}"})
    with pytest.raises(InvalidInput, match=r"weights\.pt"):
        load_artifact(no_weights)

    config = config_for("classification")
    weights = io.BytesIO()
    torch.save(build_core_module({**config, "class_names": ["normal", "anomaly"]}).state_dict(), weights)
    mismatched = _tar_with(
        tmp_path / "mm.tar.gz", {"config.json": json.dumps(config).encode(), "weights.pt": weights.getvalue()}
    )
    with pytest.raises(InvalidInput, match="do not fit"):
        load_artifact(mismatched)
    bad_size = _tar_with(
        tmp_path / "bs.tar.gz",
        {
            "config.json": json.dumps({**config, "input_size": [64]}).encode(),
            "weights.pt": weights.getvalue(),
        },
    )
    with pytest.raises(InvalidInput, match="input_size"):
        load_artifact(bad_size)


def test_save_is_atomic_and_refuses_an_incomplete_config(tmp_path: Path) -> None:
    module = build_core_module(config_for("classification"))
    config = config_for("classification")
    del config["threshold"]
    with pytest.raises(InvalidInput, match="threshold"):
        save_artifact(tmp_path / "m.tar.gz", module, config, {})
    assert list(tmp_path.iterdir()) == []
