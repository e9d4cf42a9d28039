"""The x86_64-cuda target end to end: train and publish for it, and check the package a GPU station
gets: its own target in the signed manifest, Triton configs that parse with Triton's ModelConfig
(KIND_AUTO with the TensorRT accelerator on the network), the component's platform and providers,
and that the package loads and answers its golden image here, on ONNX Runtime's CPU provider
(the fallback). No GPU was lent to this machine, so the TensorRT/CUDA path itself is not run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest

from dda.core.safe_archive import extract_archive
from dda.core.signing import load_public_key
from dda.ml.device import describe_device, resolve_device
from dda.packaging import verify_package
from dda.packaging.golden import check_golden
from dda.runtime import load_predictor
from tests.packaging.triton_stub import parse_config
from tests.portal.conftest import PortalHarness
from tests.portal.jobs.chain import CHAIN, follow
from tests.portal.jobs.conftest import FAST, setup_usecase, upload_discs, wait_done

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1200)
def test_x86_64_cuda_package_is_built_validated_and_loads_with_cpu_fallback(
    make_portal: Any, tmp_path: Path
) -> None:
    # Tokens that outlive the chain: on a loaded box it takes longer than the default 15 minutes.
    h: PortalHarness = make_portal(None, **FAST, access_token_ttl_s=3 * 3600)
    headers, usecase_id = setup_usecase(h)
    dataset = upload_discs(h, usecase_id, tmp_path)
    body = {
        "parameters": {
            "dataset": dataset,
            "model_name": "disc",
            "model_type": "classification",
            "options": {**CHAIN, "epochs": 2, "pretrained": False, "device": "auto"},
        },
        "targets": ["x86_64-cuda"],
        "precisions": ["fp32"],
    }
    base = f"/api/v1/usecases/{usecase_id}"
    started = h.client.post(f"{base}/jobs/train-and-publish", json=body, headers=headers)
    assert started.status_code == 201, started.text
    train = wait_done(h, headers, usecase_id, started.json()["id"])
    assert train["status"] == "succeeded", (train["error"], train["error_hint"])
    assert train["result"]["device"] == describe_device(resolve_device("auto"))  # "cpu" here
    compiled, packaged, _ = follow(h, headers, usecase_id, train, "compilation", "packaging", "publishing")
    [export] = compiled["result"]["exports"]
    assert export["target"] == "x86_64-cuda" and export["parity"]["passed"] is True
    assert "CPU provider" in export["notes"][0]
    [package] = packaged["result"]["packages"]
    assert package["name"] == "model-disc-x86_64-cuda"

    [component] = h.client.get(f"{base}/components", headers=headers).json()
    assert component["name"] == "model-disc-x86_64-cuda" and component["platform"] == "linux/amd64+cuda"
    assert component["default_config"]["execution_providers"] == ["tensorrt", "cuda", "cpu"]
    archive = tmp_path / "pkg.tar.gz"
    archive.write_bytes(h.client.get(f"{base}/components/{component['id']}/package", headers=headers).content)
    pem = h.client.get(f"{base}/signing-keys/active.pem", headers=headers).text.encode()
    manifest = verify_package(archive, [load_public_key(pem)])
    assert manifest.target == "x86_64-cuda" and manifest.format == "onnx" and manifest.precision == "fp32"

    root = tmp_path / "unpacked"
    extract_archive(archive, root)
    configs = {p.parent.name: parse_config(p) for p in root.rglob("config.pbtxt")}
    assert len(configs) == 4  # every config is valid Triton ModelConfig text
    network = configs[manifest.triton.base]
    assert network.backend == "onnxruntime" and network.default_model_filename == "model.onnx"
    assert [g.kind for g in network.instance_group] == [network.instance_group[0].KIND_AUTO]
    [accelerator] = network.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP32"
    for name in (manifest.triton.marshal, manifest.triton.post):  # pre/post-processing stays on CPU
        assert configs[name].instance_group[0].kind == configs[name].instance_group[0].KIND_CPU

    # Loads here: the runtime asks for TensorRT, CUDA, CPU and gets what this ONNX Runtime has.
    predictor = load_predictor(root, trusted_keys=[pem])
    available = set(ort.get_available_providers())
    if "CUDAExecutionProvider" not in available:
        assert predictor._backend.providers == ("CPUExecutionProvider",)
    golden = check_golden(root, predictor)
    assert golden.ok, golden.reason
