"""The whole-system demo's calls to the station's own HTTP API (as its web UI makes them): the first
admin, the synthetic camera, a continuous workflow on the deployed model, and its first verdict."""

from __future__ import annotations

import time
from typing import Any

import httpx

from dda.core.errors import Unavailable

SOURCE_NAME = "Demo camera (synthetic cookies)"
WORKFLOW_NAME = "demo-cookies"
# A real line's camera: 768x576 frames, 30 % defective parts.
CAMERA = {"type": "synthetic", "product": "cookie", "defect_rate": 0.3, "width": 768, "height": 576}
# Every anomaly, one good part in ten, a day of history: a demo left running does not fill the disk.
STORAGE = {"normal_sample_every": 10, "retention_days": 1.0}


class StationApi:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise Unavailable(
                f"the station refused {method} {path}: HTTP {response.status_code} {response.text[:200]}",
                hint="read the station's log in the demo folder",
            )
        return response.json() if response.content else None

    def ensure_admin(self, username: str, password: str) -> None:
        """The first admin (from loopback, as the station allows), then log in as them."""
        if self._call("GET", "/api/v1/auth/status")["setup_required"]:
            self._call("POST", "/api/v1/auth/setup", json={"username": username, "password": password})
        token = self._call("POST", "/api/v1/auth/login", json={"username": username, "password": password})
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def ensure_source(self, fps: float) -> int:
        for source in self._call("GET", "/api/v1/image-sources"):
            if source["name"] == SOURCE_NAME:
                return int(source["id"])
        body = {"name": SOURCE_NAME, "config": {**CAMERA, "fps": fps}}
        return int(self._call("POST", "/api/v1/image-sources", json=body)["id"])

    def ensure_workflow(self, source_id: int, model: str, version: str) -> int:
        """The demo workflow on ``model`` ``version`` (created, or repointed), running."""
        body = {
            "name": WORKFLOW_NAME,
            "source_id": source_id,
            "model_name": model,
            "model_version": version,
            "triggers": [{"type": "continuous"}],
            "storage": STORAGE,
        }
        existing = next(
            (w for w in self._call("GET", "/api/v1/workflows") if w["name"] == WORKFLOW_NAME), None
        )
        if existing is None:
            workflow_id = int(self._call("POST", "/api/v1/workflows", json=body)["id"])
        else:
            workflow_id = int(existing["id"])
            if (existing["model_name"], existing["model_version"]) != (model, version):
                self._call("PUT", f"/api/v1/workflows/{workflow_id}", json=body)
        if self._call("GET", f"/api/v1/workflows/{workflow_id}")["state"] != "running":
            self._call("POST", f"/api/v1/workflows/{workflow_id}/start")
        return workflow_id

    def first_verdict(self, workflow_id: int, version: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The workflow's latest result made by ``version`` (the camera inspects continuously)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            workflow = self._call("GET", f"/api/v1/workflows/{workflow_id}")
            if workflow["state"] == "error":
                raise Unavailable(
                    f"the demo workflow failed: {workflow['error']}", hint="see the station's log"
                )
            result = workflow.get("last_result")
            if result and result["model_version"] == version:
                return dict(result)
            time.sleep(0.5)
        raise Unavailable(
            f"no verdict from the demo workflow in {timeout_s:.0f} s", hint="see the station's log"
        )
