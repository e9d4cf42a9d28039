"""Packages: Triton layout, configs parse with Triton's ModelConfig, signatures, install."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from dda.core.errors import Conflict, InvalidInput, NotFound
from dda.core.signing import SIGNATURE_NAME, SignatureError, generate_keypair
from dda.packaging import (
    archive_package,
    build_package,
    install_package,
    read_manifest,
    verify_package,
)
from dda.runtime import load_predictor
from tests.packaging.triton_stub import InferenceRequest, Tensor, load_python_model, parse_config

ALL = ("classification", "segmentation", "anomaly", "openvino", "jetson")


def _copy(package: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(package, tmp_path / "copy"))


@pytest.mark.parametrize("kind", ALL)
def test_layout_and_manifest(kind: str, packages: dict[str, Path]) -> None:
    root = packages[kind]
    manifest = read_manifest(root)
    m = manifest.name
    for model in (m, f"marshal_{m}", f"base_{m}", f"post_{m}"):
        assert (root / model / "config.pbtxt").is_file() and (root / model / "1").is_dir()
    assert (root / f"marshal_{m}/1/model.py").is_file()
    assert (root / f"post_{m}/1/model.py").is_file() and (root / f"post_{m}/1/dda_postprocess.py").is_file()
    assert (root / manifest.triton.model_file).is_file()
    assert manifest.labels == ["normal", "anomaly"] and manifest.input_size == (32, 40)
    assert manifest.dataset_id == "ds-test" and manifest.training_id == "tr-test"
    assert manifest.metrics == {"image_auroc": 0.9} and manifest.parity["passed"] is True
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert set(manifest.files) == on_disk - {"manifest.json", "SHA256SUMS.json", SIGNATURE_NAME}
    assert (root / SIGNATURE_NAME).is_file()


@pytest.mark.parametrize("kind", ALL)
def test_every_config_parses_with_triton_model_config(kind: str, packages: dict[str, Path]) -> None:
    root = packages[kind]
    configs = {p.parent.name: parse_config(p) for p in root.glob("*/config.pbtxt")}
    assert len(configs) == 4
    manifest = read_manifest(root)
    base = configs[manifest.triton.base]
    expected = {"openvino": ("openvino", ""), "jetson": ("", "tensorrt_plan")}.get(kind, ("onnxruntime", ""))
    assert (base.backend, base.platform) == expected
    assert list(base.input[0].dims) == [-1, -1, 3] and base.input[0].data_type == 2  # TYPE_UINT8
    # The ensemble wires tensors that exist: each step's keys are the step model's own I/O names,
    # and each value is the ensemble input or an earlier step's output.
    ensemble = configs[manifest.triton.ensemble]
    assert ensemble.platform == "ensemble"
    available = {t.name for t in ensemble.input}
    for step in ensemble.ensemble_scheduling.step:
        model = configs[step.model_name]
        assert set(step.input_map) == {t.name for t in model.input}
        assert set(step.input_map.values()) <= available
        assert set(step.output_map) <= {t.name for t in model.output}
        available |= set(step.output_map.values())
    assert {t.name for t in ensemble.output} <= available


def test_openvino_and_jetson_packages_ship_their_files(packages: dict[str, Path]) -> None:
    ov = read_manifest(packages["openvino"])
    assert ov.format == "openvino" and ov.triton.model_file.endswith("1/model.xml")
    assert any(f.endswith("1/model.bin") for f in ov.files)
    jetson = read_manifest(packages["jetson"])
    assert jetson.target == "jetson" and jetson.generated_at_install == [f"base_{jetson.name}/1/model.plan"]
    assert os.access(packages["jetson"] / f"base_{jetson.name}/1/build_engine.sh", os.X_OK)


def test_verify_accepts_the_package_and_its_archive(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    pkg = packages["classification"]
    assert verify_package(pkg, [keypair[1]]).name == "tiny-classification"
    archive = archive_package(pkg, tmp_path / "pkg.tar.gz")
    assert verify_package(archive, [keypair[1]]).version == "1.0.0"
    again = archive_package(pkg, tmp_path / "again.tar.gz")
    assert again.read_bytes() == archive.read_bytes()  # reproducible archives


def test_verify_refuses_a_tampered_file(packages: dict[str, Path], keypair, tmp_path: Path) -> None:
    pkg = _copy(packages["classification"], tmp_path)
    model = pkg / read_manifest(pkg).triton.model_file
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(SignatureError, match=re.escape("changed: base_tiny-classification/1/model.onnx")):
        verify_package(pkg, [keypair[1]])


def test_verify_refuses_an_added_file(packages: dict[str, Path], keypair, tmp_path: Path) -> None:
    pkg = _copy(packages["segmentation"], tmp_path)
    (pkg / "post_tiny-segmentation" / "1" / "evil.py").write_text("import os\n")
    with pytest.raises(SignatureError, match=re.escape("added: post_tiny-segmentation/1/evil.py")):
        verify_package(pkg, [keypair[1]])


def test_verify_refuses_a_removed_file(packages: dict[str, Path], keypair, tmp_path: Path) -> None:
    pkg = _copy(packages["anomaly"], tmp_path)
    (pkg / "marshal_tiny-anomaly" / "config.pbtxt").unlink()
    with pytest.raises(SignatureError, match=re.escape("missing: marshal_tiny-anomaly/config.pbtxt")):
        verify_package(pkg, [keypair[1]])


def test_verify_refuses_an_edited_manifest(packages: dict[str, Path], keypair, tmp_path: Path) -> None:
    pkg = _copy(packages["anomaly"], tmp_path)
    data = json.loads((pkg / "manifest.json").read_text())
    data["threshold"] = 1e9  # an attacker silencing every defect
    (pkg / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(SignatureError, match=re.escape("changed: manifest.json")):
        verify_package(pkg, [keypair[1]])


def test_verify_refuses_a_wrong_key_and_a_resigned_package(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    other_private, other_public = generate_keypair()
    with pytest.raises(SignatureError, match="not trusted"):
        verify_package(packages["classification"], [other_public])
    # Re-signing a modified package with an untrusted key does not help.
    from dda.core.signing import sign_directory

    pkg = _copy(packages["classification"], tmp_path)
    (pkg / "extra.txt").write_text("x")
    sign_directory(pkg, other_private)
    with pytest.raises(SignatureError, match="not trusted"):
        verify_package(pkg, [keypair[1]])


def test_verify_refuses_an_unsigned_directory(packages: dict[str, Path], keypair, tmp_path: Path) -> None:
    pkg = _copy(packages["classification"], tmp_path)
    (pkg / SIGNATURE_NAME).unlink()
    with pytest.raises(SignatureError, match="not signed"):
        verify_package(pkg, [keypair[1]])


def test_install_publishes_verified_package_atomically(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    archive = archive_package(packages["segmentation"], tmp_path / "seg.tar.gz")
    repo = tmp_path / "repo"
    installed = install_package(archive, repo, [keypair[1]])
    assert installed.path == repo / "tiny-segmentation" / "1.0.0" and not installed.already_installed
    assert verify_package(installed.path, [keypair[1]]).name == "tiny-segmentation"
    assert [p.name for p in repo.iterdir()] == ["tiny-segmentation"]  # no staging left behind
    assert install_package(archive, repo, [keypair[1]]).already_installed
    with load_predictor(installed.path) as predictor:
        assert predictor.predict(np.zeros((50, 60, 3), np.uint8)).mask.shape == (50, 60)


def test_install_refuses_other_content_under_an_installed_version(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    install_package(archive_package(packages["anomaly"], tmp_path / "a.tar.gz"), repo, [keypair[1]])
    # Same name and version, different model (the classification one renamed) -> Conflict.
    renamed = tmp_path / "renamed"
    exported = packages["classification"].parent / "export-classification-x86_64-cpu"
    build_package(exported, None, renamed, keypair[0], name="tiny-anomaly", version="1.0.0")
    with pytest.raises(Conflict, match="already installed"):
        install_package(archive_package(renamed, tmp_path / "b.tar.gz"), repo, [keypair[1]])


def test_install_refuses_a_tampered_archive_and_publishes_nothing(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    pkg = _copy(packages["classification"], tmp_path)
    (pkg / "marshal_tiny-classification" / "1" / "model.py").write_text("import os; os.system('rm -rf /')\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(pkg.rglob("*")):
            tar.add(path, arcname=path.relative_to(pkg).as_posix(), recursive=False)
    archive = tmp_path / "tampered.tar.gz"
    archive.write_bytes(buffer.getvalue())
    repo = tmp_path / "repo"
    with pytest.raises(SignatureError, match=re.escape("changed: marshal_tiny-classification/1/model.py")):
        install_package(archive, repo, [keypair[1]])
    assert list(repo.iterdir()) == []


def test_jetson_install_builds_the_engine_and_stays_verifiable(
    packages: dict[str, Path], keypair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """trtexec cannot run here (no TensorRT); a stand-in records the call and writes the engine."""
    fake = tmp_path / "trtexec"
    fake.write_text(
        '#!/usr/bin/env bash\nfor a in "$@"; do case "$a" in --saveEngine=*) '
        'echo plan > "${a#--saveEngine=}";; esac; done\n'
    )
    fake.chmod(0o755)
    archive = archive_package(packages["jetson"], tmp_path / "jetson.tar.gz")
    monkeypatch.setenv("TRTEXEC", str(fake))
    installed = install_package(archive, tmp_path / "repo", [keypair[1]])
    assert (installed.path / "base_tiny-anomaly" / "1" / "model.plan").read_text() == "plan\n"
    verify_package(installed.path, [keypair[1]])  # the engine is a signed exclusion
    monkeypatch.setenv("TRTEXEC", str(tmp_path / "missing"))
    from dda.core.errors import Unavailable

    with pytest.raises(Unavailable, match="trtexec not found"):
        install_package(archive, tmp_path / "repo2", [keypair[1]])
    assert list((tmp_path / "repo2").iterdir()) == []


def test_build_refuses_bad_names_and_bare_onnx_without_config(
    packages: dict[str, Path], keypair, tmp_path: Path
) -> None:
    exported = packages["classification"].parent / "export-classification-x86_64-cpu"
    with pytest.raises(InvalidInput, match="package name"):
        build_package(exported, None, tmp_path / "a", keypair[0], name="Bad Name!", version="1")
    with pytest.raises(InvalidInput, match="bare ONNX"):
        build_package(exported / "model.onnx", None, tmp_path / "b", keypair[0], name="ok", version="1")
    with pytest.raises(NotFound):
        build_package(tmp_path / "nothing", None, tmp_path / "c", keypair[0], name="ok", version="1")
    with pytest.raises(Conflict, match="not empty"):
        build_package(exported, None, packages["classification"], keypair[0], name="ok", version="1")
    bare = build_package(
        exported / "model.onnx",
        read_manifest_config(exported),
        tmp_path / "d",
        keypair[0],
        name="bare",
        version="2",
    )
    assert read_manifest(bare).target == "x86_64-cpu"


def read_manifest_config(exported: Path) -> dict:
    return json.loads((exported / "export.json").read_text())["config"]


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["classification", "segmentation", "anomaly"])
def test_triton_python_models_match_the_station_runtime(kind: str, packages: dict[str, Path]) -> None:
    """Run the shipped marshal and post model.py files the way Triton would, around ONNX Runtime."""
    root = packages[kind]
    manifest = read_manifest(root)
    marshal = load_python_model(root / manifest.triton.marshal)
    post = load_python_model(root / manifest.triton.post)
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    payload = np.array([_jpeg(image)], dtype=np.object_)

    (decoded,) = marshal.execute([InferenceRequest([Tensor("image_bytes", payload)])])
    assert not decoded.has_error()
    pixels = decoded.outputs()["image"]
    np.testing.assert_array_equal(pixels, image)  # PNG is lossless

    session = ort.InferenceSession(str(root / manifest.triton.model_file), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    raw = dict(zip(names, session.run(None, {"image": pixels}), strict=True))
    request = InferenceRequest([Tensor("image", pixels), *(Tensor(k, v) for k, v in raw.items())])
    (result,) = post.execute([request])
    assert not result.has_error()
    out = result.outputs()

    with load_predictor(root) as predictor:
        expected = predictor.predict(image)
    assert out["verdict"][0].decode() == expected.verdict
    assert out["label"][0].decode() == expected.label
    assert out["anomaly_score"][0] == pytest.approx(expected.anomaly_score, rel=1e-5, abs=1e-6)
    np.testing.assert_array_equal(out["overlay"], expected.overlay)
    summary = json.loads(out["result_json"][0])
    assert summary["model_name"] == manifest.name and summary["class_areas"] == pytest.approx(
        expected.class_areas
    )


def test_marshal_model_refuses_non_images(packages: dict[str, Path]) -> None:
    root = packages["classification"]
    marshal = load_python_model(root / read_manifest(root).triton.marshal)
    payload = np.array([b"%PDF-1.7 not an image"], dtype=np.object_)
    (response,) = marshal.execute([InferenceRequest([Tensor("image_bytes", payload)])])
    assert response.has_error() and "not a JPEG" in response.error.message()
