"""Tiny real model packages for station tests: an ONNX graph (runs in ONNX Runtime) + manifest.

The classifier's anomaly probability is the image's mean brightness / 255, so a white image is
an anomaly and a black one is normal: tests can choose the verdict by choosing the image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from dda.packaging.manifest import MANIFEST_FILE, PackageManifest, TritonLayout


def brightness_classifier() -> bytes:
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["image_f"], ["mean"], keepdims=0),
        helper.make_node("Div", ["mean", "c255"], ["p"]),
        helper.make_node("Sub", ["c1", "p"], ["q"]),
        helper.make_node("Unsqueeze", ["q", "axis0"], ["q1"]),
        helper.make_node("Unsqueeze", ["p", "axis0"], ["p1"]),
        helper.make_node("Concat", ["q1", "p1"], ["scores"], axis=0),
        helper.make_node("Gather", ["image_f", "zero"], ["channel0"], axis=2),
        helper.make_node("Mul", ["channel0", "c0"], ["anomaly_map"]),
    ]
    inits = [
        helper.make_tensor("c255", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("c1", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("c0", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
    ]
    graph = helper.make_graph(
        nodes,
        "brightness",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["h", "w", 3])],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("anomaly_map", TensorProto.FLOAT, ["h", "w"]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_installed_package(
    model_repo: Path, name: str = "bright", version: str = "1", dataset_id: str | None = None
) -> Path:
    """An installed package directory (``<repo>/<name>/<version>``) as the installer leaves it."""
    package_dir = model_repo / name / version
    model_file = f"base_{name}/1/model.onnx"
    data = brightness_classifier()
    (package_dir / model_file).parent.mkdir(parents=True, exist_ok=True)
    (package_dir / model_file).write_bytes(data)
    manifest = PackageManifest(
        name=name,
        version=version,
        model_type="classification",
        labels=["normal", "anomaly"],
        threshold=0.5,
        pixel_threshold=0.5,
        input_size=(64, 64),
        target="x86_64-cpu",
        triton=TritonLayout(
            ensemble=name,
            marshal=f"marshal_{name}",
            base=f"base_{name}",
            post=f"post_{name}",
            model_file=model_file,
        ),
        files={model_file: hashlib.sha256(data).hexdigest()},
        dataset_id=dataset_id,
    )
    (package_dir / MANIFEST_FILE).write_bytes(manifest.to_json_bytes())
    return package_dir


def solid(value: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.uint8)


def signing_keypair(folder: Path) -> tuple[bytes, Path]:
    """(private key PEM, path of the public key PEM) of a fresh Ed25519 package signer."""
    from dda.core.signing import generate_keypair

    private, public = generate_keypair()
    folder.mkdir(parents=True, exist_ok=True)
    public_path = folder / "signer.pub.pem"
    public_path.write_bytes(public)
    return private, public_path


def build_signed_archive(folder: Path, private_key: bytes, name: str = "bright", version: str = "1") -> Path:
    """A real package archive made by ``dda.packaging`` from the brightness classifier."""
    from dda.packaging import archive_package, build_package

    folder.mkdir(parents=True, exist_ok=True)
    onnx_file = folder / f"{name}-{version}.onnx"
    onnx_file.write_bytes(brightness_classifier())
    config = {
        "model_type": "classification",
        "class_names": ["normal", "anomaly"],
        "threshold": 0.5,
        "input_size": [64, 64],
    }
    package_dir = build_package(
        onnx_file, config, folder / f"pkg-{name}-{version}", private_key, name=name, version=version
    )
    return archive_package(package_dir, folder / f"{name}-{version}.tar.gz")
