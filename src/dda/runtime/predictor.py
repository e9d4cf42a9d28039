"""The station's inference entry point: package -> pre-process -> backend forward -> post-process.

Pre-processing is thin on purpose: resize and normalisation are baked into the exported graph, so
here an image is only checked and made a contiguous uint8 [H, W, 3] array.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from dda.core.errors import InvalidInput, Unavailable
from dda.core.signing import file_sha256
from dda.packaging.manifest import PackageManifest, read_manifest
from dda.runtime.backends import BackendOptions, available_backends, create_backend
from dda.runtime.postprocess import PostProcessConfig, post_process
from dda.runtime.types import InferenceBackend, Prediction

MIN_SIDE = 8
MAX_SIDE = 16384


def prepare_image(image: np.ndarray) -> np.ndarray:
    """Check and normalise an input image to C-contiguous uint8 [H, W, 3] RGB."""
    if not isinstance(image, np.ndarray):
        raise InvalidInput(
            f"image must be a numpy array, got {type(image).__name__}",
            hint="decode files with dda.core.safe_image.decode_image first",
        )
    if image.dtype != np.uint8:
        raise InvalidInput(f"image must be uint8, got {image.dtype}", hint="pass 8-bit RGB pixels (0-255)")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidInput(
            f"image must be [H, W, 3] RGB, got shape {image.shape}",
            hint="convert greyscale/RGBA/BGR frames to RGB first",
        )
    height, width = image.shape[:2]
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise InvalidInput(
            f"image size {width}x{height} is outside {MIN_SIDE}..{MAX_SIDE} pixels per side",
            hint="crop or resize the camera frame",
        )
    return np.ascontiguousarray(image)


class Predictor:
    """One loaded model package. Not thread-safe: use one per worker."""

    def __init__(self, manifest: PackageManifest, backend: InferenceBackend, package_dir: Path) -> None:
        self._manifest = manifest
        self._backend = backend
        self.package_dir = package_dir
        self._post_config = PostProcessConfig.from_mapping(manifest.postprocess_config())

    @property
    def manifest(self) -> PackageManifest:
        return self._manifest

    @property
    def backend_name(self) -> str:
        return self._backend.name

    def pre_process(self, image: np.ndarray) -> np.ndarray:
        return prepare_image(image)

    def forward(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return self._backend.forward(image)

    def predict(self, image: np.ndarray, draw_overlay: bool = True) -> Prediction:
        """Run one image through the model and decide its verdict."""
        t0 = time.perf_counter()
        prepared = self.pre_process(image)
        t1 = time.perf_counter()
        outputs = self.forward(prepared)
        t2 = time.perf_counter()
        result = post_process(outputs, prepared, self._post_config, draw_overlay=draw_overlay)
        t3 = time.perf_counter()
        timings = {
            "pre_process": (t1 - t0) * 1000.0,
            "forward": (t2 - t1) * 1000.0,
            "post_process": (t3 - t2) * 1000.0,
            "total": (t3 - t0) * 1000.0,
        }
        return Prediction(
            **result,
            timings_ms=timings,
            model_name=self._manifest.name,
            model_version=self._manifest.version,
        )

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _check_model_hashes(package_dir: Path, manifest: PackageManifest) -> None:
    """Hash the files of the network's directory (model.onnx, or model.xml + model.bin)."""
    model_dir = Path(manifest.triton.model_file).parent.as_posix() + "/"
    for rel, expected in manifest.files.items():
        if not rel.startswith(model_dir):
            continue
        path = package_dir / rel
        if not path.is_file() or file_sha256(path) != expected:
            raise InvalidInput(
                f"{rel} in {package_dir} is missing or does not match its sha256 in the manifest",
                hint="the package is corrupted or was modified: reinstall it",
            )


def _pick_backend(manifest: PackageManifest, backend: str) -> str:
    if backend != "auto":
        if manifest.format == "openvino" and backend != "openvino":
            raise InvalidInput(
                f"package {manifest.name} holds an OpenVINO IR, which backend {backend!r} cannot run",
                hint="use backend='openvino' (or 'auto'), or export with --target x86_64-cpu for ONNX",
            )
        return backend
    if manifest.format == "openvino":
        return "openvino"
    if "onnxruntime" in available_backends():
        return "onnxruntime"
    if "openvino" in available_backends():
        return "openvino"
    raise Unavailable("no inference backend is installed", hint="pip install 'dda[station]'")


def load_predictor(
    package_dir: Path,
    backend: str = "auto",
    *,
    threads: int | None = None,
    device: str = "CPU",
    providers: Sequence[str] | None = None,
    trusted_keys: Sequence[bytes | str | Path] | None = None,
    check_hashes: bool = True,
) -> Predictor:
    """Load an unpacked package (or an installed ``<repo>/<name>/<version>`` directory).

    ``trusted_keys`` verifies the signature and every file first (see ``verify_package``);
    otherwise ``check_hashes`` still compares the network file with its manifest hash, which
    catches a corrupted copy. ``backend`` is ``auto``, ``onnxruntime`` or ``openvino``.
    """
    package_dir = Path(package_dir)
    if trusted_keys is not None:
        from dda.packaging.verify import verify_package

        manifest = verify_package(package_dir, trusted_keys)
    else:
        manifest = read_manifest(package_dir)
    model_path = package_dir / manifest.triton.model_file
    if check_hashes:
        _check_model_hashes(package_dir, manifest)
    options = BackendOptions(
        threads=threads, device=device, providers=tuple(providers) if providers else None
    )
    return Predictor(
        manifest, create_backend(_pick_backend(manifest, backend), model_path, options), package_dir
    )
