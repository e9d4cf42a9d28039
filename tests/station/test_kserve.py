"""The KServe v2 protocol, checked with Triton's own client (tritonclient.http) against the station
served by a real uvicorn; outputs compared with ONNX Runtime run directly on the same model."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton
from fastapi import FastAPI
from tritonclient.utils import InferenceServerException

from dda.station.paths import StationPaths
from tests.station.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.station.server_util import serve_in_thread


@pytest.fixture
def served(app: FastAPI, installed_model: tuple[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    with serve_in_thread(app) as address:
        base = f"http://{address}/api/v1"
        httpx.post(
            f"{base}/auth/setup", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        ).raise_for_status()
        token = httpx.post(
            f"{base}/auth/login", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        ).json()
        yield address, {"Authorization": f"Bearer {token['access_token']}"}


def test_tritonclient_health_metadata_ready_and_infer(
    served: tuple[str, dict[str, str]], station_paths: StationPaths
) -> None:
    address, headers = served
    client = triton.InferenceServerClient(url=address)
    assert client.is_server_live() and client.is_server_ready()

    metadata = client.get_model_metadata("bright", headers=headers)
    assert metadata["name"] == "bright" and metadata["versions"] == ["1"]
    assert metadata["inputs"] == [{"name": "image", "datatype": "UINT8", "shape": [-1, -1, 3]}]
    assert not client.is_model_ready("bright", headers=headers)
    httpx.post(f"http://{address}/api/v1/models/bright/1/load", headers=headers).raise_for_status()
    assert client.is_model_ready("bright", headers=headers)
    assert client.is_model_ready("bright", model_version="1", headers=headers)

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(40, 52, 3), dtype=np.uint8)
    session = ort.InferenceSession(str(station_paths.model_repo / "bright/1/base_bright/1/model.onnx"))
    expected = dict(
        zip(["scores", "anomaly_map"], session.run(["scores", "anomaly_map"], {"image": image}), strict=True)
    )

    for binary in (True, False):
        tensor = triton.InferInput("image", list(image.shape), "UINT8")
        tensor.set_data_from_numpy(image, binary_data=binary)
        outputs = [triton.InferRequestedOutput(n, binary_data=binary) for n in ("scores", "anomaly_map")]
        # tritonclient writes its Inference-Header-Content-Length into the dict it is given: a copy each call
        result = client.infer("bright", [tensor], outputs=outputs, request_id="req-1", headers=dict(headers))
        assert result.get_response()["model_version"] == "1" and result.get_response()["id"] == "req-1"
        np.testing.assert_allclose(result.as_numpy("scores"), expected["scores"], rtol=1e-6)
        assert result.as_numpy("anomaly_map").shape == (40, 52)


def test_tritonclient_errors(served: tuple[str, dict[str, str]]) -> None:
    address, headers = served
    client = triton.InferenceServerClient(url=address)
    with pytest.raises(InferenceServerException, match="not installed"):
        client.get_model_metadata("nope", headers=headers)
    tensor = triton.InferInput("image", [4, 4], "UINT8")
    tensor.set_data_from_numpy(np.zeros((4, 4), np.uint8))
    with pytest.raises(InferenceServerException, match=r"UINT8 \[H, W, 3\]"):
        client.infer("bright", [tensor], headers=dict(headers))
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("bright")  # no login
