"""Malformed requests get a 4xx with a reason, never a 5xx: huge ids and offsets, non-object JSON,
out-of-range plugin numbers, and broken KServe v2 requests."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient

HUGE = str(2**63)
HUGER = "9" * 40


ID_ROUTES = [
    ("GET", "/api/v1/results/{id}"),
    ("PATCH", "/api/v1/results/{id}"),
    ("GET", "/api/v1/results/{id}/image"),
    ("GET", "/api/v1/workflows/{id}"),
    ("PUT", "/api/v1/workflows/{id}"),
    ("DELETE", "/api/v1/workflows/{id}"),
    ("POST", "/api/v1/workflows/{id}/run"),
    ("POST", "/api/v1/workflows/{id}/start"),
    ("GET", "/api/v1/image-sources/{id}"),
    ("DELETE", "/api/v1/image-sources/{id}"),
    ("POST", "/api/v1/image-sources/{id}/capture"),
    ("DELETE", "/api/v1/auth/tokens/{id}"),
    ("PATCH", "/api/v1/users/{id}"),
]


def test_ids_above_2_63_are_4xx(client: TestClient, auth: dict[str, str]) -> None:
    failures = []
    for method, path in ID_ROUTES:
        for value in (HUGE, HUGER, "-1", "0"):
            response = client.request(method, path.format(id=value), headers=auth, json={})
            if not 400 <= response.status_code < 500:
                failures.append(f"{method} {path} {value}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def test_offsets_and_filters_above_2_63_are_4xx(client: TestClient, auth: dict[str, str]) -> None:
    for params in ({"offset": HUGE}, {"offset": HUGER}, {"workflow_id": HUGE}, {"limit": HUGE}):
        assert client.get("/api/v1/results", params=params, headers=auth).status_code == 422, params
    assert (
        client.get("/api/v1/results/summary", params={"workflow_id": HUGE}, headers=auth).status_code == 422
    )
    body = {"offset": 2**63, "workflow_id": 2**64}
    assert client.post("/api/v1/results/export", json=body, headers=auth).status_code == 422
    workflow = {"name": "w", "source_id": 2**63, "model_name": "m", "model_version": "1"}
    assert client.post("/api/v1/workflows", json=workflow, headers=auth).status_code == 422


def test_model_install_with_a_non_object_json_body_is_422(client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "content-type": "application/json"}
    for body in ("[1, 2]", '"https://example.com/p.tar.gz"', "5", "null", "{", '{"url": 5}'):
        response = client.post("/api/v1/models", content=body, headers=headers)
        assert response.status_code == 422, (body, response.text)


BAD_CONFIGS = [
    {"type": "synthetic", "seed": -1},
    {"type": "synthetic", "seed": 2**64},
    {"type": "synthetic", "width": 10**9},
    {"type": "synthetic", "fps": 1e308},
    {"type": "synthetic", "defect_rate": 2},
    {"type": "synthetic", "width": float("inf")},
]
BAD_CAMERAS = [{"gain": 1e308}, {"exposure_us": 1e300}, {"roi": {"width": 2**70, "height": 1}}]


def test_out_of_range_source_configs_are_422(client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "content-type": "application/json"}
    bodies = [{"name": "s", "config": c} for c in BAD_CONFIGS]
    bodies += [{"name": "s", "config": {"type": "synthetic"}, "camera": c} for c in BAD_CAMERAS]
    for body in bodies:
        text = json.dumps(body).replace("Infinity", "1e400")  # inf once parsed
        response = client.post("/api/v1/image-sources", content=text, headers=headers)
        assert response.status_code == 422, (body, response.text)


def _infer_json(tensor: dict, **extra: object) -> bytes:
    return json.dumps({"inputs": [tensor], **extra}).encode()


IMAGE = {"name": "image", "datatype": "UINT8", "shape": [1, 1, 3], "data": [1, 2, 3]}
KSERVE_BAD = [
    ("bad header length", b'{"inputs": []}', {"Inference-Header-Content-Length": "abc"}),
    ("negative header length", b'{"inputs": []}', {"Inference-Header-Content-Length": "-5"}),
    ("header length past the body", b'{"inputs": []}', {"Inference-Header-Content-Length": "99999"}),
    ("list body", b"[1, 2, 3]", {}),
    ("string body", b'"image"', {}),
    ("not JSON", b"\xff\xfe\x00garbage", {}),
    ("outputs: 5", _infer_json(IMAGE, outputs=5), {}),
    ("outputs of numbers", _infer_json(IMAGE, outputs=[5]), {}),
    ("inputs not a list", b'{"inputs": {"name": "image"}}', {}),
    ("input not an object", b'{"inputs": [7]}', {}),
    ("shape [0,0,3]", _infer_json({**IMAGE, "shape": [0, 0, 3], "data": []}), {}),
    ("UINT8 value 300", _infer_json({**IMAGE, "data": [1, 2, 300]}), {}),
    ("negative UINT8", _infer_json({**IMAGE, "data": [1, 2, -1]}), {}),
    ("strings as data", _infer_json({**IMAGE, "data": ["a", "b", "c"]}), {}),
    ("ragged data", _infer_json({**IMAGE, "data": [[1, 2], [3]]}), {}),
    ("data too short", _infer_json({**IMAGE, "data": [1]}), {}),
    ("bad datatype", _infer_json({**IMAGE, "datatype": "UINT9"}), {}),
    ("datatype a list", _infer_json({**IMAGE, "datatype": ["UINT8"]}), {}),
    ("float shape", _infer_json({**IMAGE, "shape": [1.5, 1, 3]}), {}),
    ("huge shape", _infer_json({**IMAGE, "shape": [2**40, 2**40, 3]}), {}),
    ("bool shape", _infer_json({**IMAGE, "shape": [True, True, 3]}), {}),
    ("no image input", _infer_json({**IMAGE, "name": "other"}), {}),
    ("FP32 image", _infer_json({**IMAGE, "datatype": "FP32", "data": [0.1, 0.2, 0.3]}), {}),
    ("id not a string", _infer_json(IMAGE, id={"x": 1}), {}),
    ("nested too deep", b"[" * 100_000 + b"]" * 100_000, {}),
]


def _binary(size: object, payload: bytes) -> tuple[bytes, dict[str, str]]:
    spec = {
        "name": "image",
        "datatype": "UINT8",
        "shape": [1, 2, 3],
        "parameters": {"binary_data_size": size},
    }
    header = json.dumps({"inputs": [spec]}).encode()
    return header + payload, {"Inference-Header-Content-Length": str(len(header))}


KSERVE_BAD += [
    ("binary size too small", *_binary(3, b"\x00" * 6)),
    ("binary size past the body", *_binary(600, b"\x00" * 6)),
    ("binary size negative", *_binary(-6, b"\x00" * 6)),
    ("binary size a string", *_binary("6", b"\x00" * 6)),
    ("binary size a float", *_binary(6.0, b"\x00" * 6)),
]


def test_malformed_kserve_requests_are_4xx(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    assert client.post("/api/v1/models/bright/1/load", headers=auth).status_code == 200
    good = client.post("/v2/models/bright/infer", content=_infer_json(IMAGE), headers=auth)
    assert good.status_code == 200, good.text
    body, headers = _binary(6, b"\x07" * 6)
    assert (
        client.post("/v2/models/bright/infer", content=body, headers={**auth, **headers}).status_code == 200
    )
    failures = []
    for name, body, extra in KSERVE_BAD:
        response = client.post("/v2/models/bright/infer", content=body, headers={**auth, **extra})
        if not 400 <= response.status_code < 500 or "error" not in response.json():
            failures.append(f"{name}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


def test_request_bodies_are_capped_per_route(client: TestClient, auth: dict[str, str]) -> None:
    """A JSON route takes 1 MiB, a declared or streamed body past the cap is a 413."""
    big = b'{"name": "' + b"x" * (2 << 20) + b'"}'
    headers = {**auth, "content-type": "application/json"}
    assert client.post("/api/v1/workflows", content=big, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"name": "'
        for _ in range(3):
            yield b"x" * (1 << 20)
        yield b'"}'

    assert client.post("/api/v1/image-sources", content=chunks(), headers=headers).status_code == 413
    small = client.post("/api/v1/workflows", content=b'{"name": "x"}', headers=headers)
    assert small.status_code == 422  # under the cap: validated as usual
