"""Measure and run what ships: a ``dda export`` folder or a signed package (folder or archive).

``dda evaluate`` and ``dda predict`` accept these as well as a trained ``model.tar.gz``; the images
then go through :mod:`dda.runtime` (ONNX Runtime or OpenVINO) exactly as on the station, so a user
measures the INT8 model they deploy, not its FP32 parent.
"""

from __future__ import annotations

import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset
from dda.runtime.postprocess import PostProcessConfig, post_process
from dda.runtime.types import InferenceBackend, Prediction

PACKAGE_MANIFEST = "manifest.json"


def shipped_kind(path: Path) -> str | None:
    """'package' (folder with manifest.json), 'export' (folder with export.json), 'archive' (a
    package .tar.gz/.zip), or None for anything else (a trained artifact or checkpoint)."""
    from dda.packaging.exported import EXPORT_FILE

    path = Path(path)
    if path.is_dir():
        if (path / PACKAGE_MANIFEST).is_file():
            return "package"
        if (path / EXPORT_FILE).is_file():
            return "export"
        return None
    if path.is_file() and _archive_members(path) & {PACKAGE_MANIFEST}:
        return "archive"
    return None


def _archive_members(path: Path) -> set[str]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return {Path(n).name for n in archive.namelist()[:256]}
        with tarfile.open(path) as archive:
            names = set()
            for index, member in enumerate(archive):
                if index >= 256:
                    break
                names.add(Path(member.name).name)
            return names
    except (tarfile.TarError, OSError, zipfile.BadZipFile):
        return set()


@dataclass
class ShippedModel:
    """A loaded export or package: runs one image through its runtime backend and decides."""

    name: str
    precision: str
    backend: InferenceBackend
    post_config: PostProcessConfig
    config: dict[str, Any]

    @property
    def threshold(self) -> float:
        return self.post_config.threshold

    def predict(self, image: np.ndarray, draw_overlay: bool = True) -> Prediction:
        from dda.runtime.predictor import prepare_image

        prepared = prepare_image(image)
        result = post_process(
            self.backend.forward(prepared), prepared, self.post_config, draw_overlay=draw_overlay
        )
        return Prediction(**result, model_name=self.name, model_version=self.precision)


@contextmanager
def open_shipped(path: Path) -> Iterator[ShippedModel]:
    """Load an export folder or a package (folder or archive) for the local runtime."""
    from dda.core.safe_archive import extract_archive
    from dda.runtime.backends import BackendOptions, available_backends, create_backend

    path = Path(path)
    kind = shipped_kind(path)
    with ExitStack() as stack:
        if kind == "archive":
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".dda-shipped-"))) / "package"
            extract_archive(path, root)
            path, kind = root, "package"
        if kind == "package":
            from dda.packaging.manifest import read_manifest
            from dda.runtime.predictor import _check_model_hashes, _pick_backend

            manifest = read_manifest(path)
            _check_model_hashes(path, manifest)
            backend = create_backend(_pick_backend(manifest, "auto"), path / manifest.triton.model_file)
            config = dict(manifest.postprocess_config())
            shipped = ShippedModel(
                f"{manifest.name} {manifest.version}", manifest.precision, backend,
                PostProcessConfig.from_mapping(config), config,
            )  # fmt: skip
        elif kind == "export":
            from dda.packaging.exported import read_export

            info = read_export(path)
            name = "openvino" if info.format == "openvino" else "onnxruntime"
            if name not in available_backends():
                raise InvalidInput(f"the {name} runtime is not installed", hint="pip install 'dda[station]'")
            backend = create_backend(name, path / info.model_file, BackendOptions())
            shipped = ShippedModel(
                f"export {path.name}", info.precision, backend, PostProcessConfig.from_mapping(info.config),
                dict(info.config),
            )  # fmt: skip
        else:
            raise InvalidInput(
                f"{path.name} is not an export folder or a model package", hint="see dda export"
            )
        try:
            yield shipped
        finally:
            backend.close()


def evaluate_shipped(shipped: ShippedModel, dataset: Dataset, progress: bool = False) -> dict[str, Any]:
    """Image metrics of the deployed model on a labelled dataset, one image at a time as on the line."""
    from tqdm.auto import tqdm

    from dda.ml.data import load_rgb
    from dda.ml.metrics import classification_metrics
    from dda.ml.training.evaluate import _remap_labels

    classes = list(shipped.post_config.labels)
    remapped = _remap_labels(dataset, classes)
    index = {name: i for i, name in enumerate(classes)}
    truth, predicted, scores = [], [], []
    for sample in tqdm(remapped.samples, desc="evaluating", unit="img", disable=not progress, leave=False):
        prediction = shipped.predict(load_rgb(Path(sample.image_path)), draw_overlay=False)
        truth.append(sample.label)
        scores.append(prediction.anomaly_score)
        predicted.append(0 if prediction.verdict == "normal" else index.get(prediction.label, 1))
    return {
        "image": classification_metrics(
            np.asarray(truth), np.asarray(predicted), np.asarray(scores), labels=classes
        ),
        "threshold": shipped.threshold,
        "num_images": len(truth),
        "precision": shipped.precision,
        "runtime": shipped.backend.name,
    }
