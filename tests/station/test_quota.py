"""The storage quota: oldest results go first, flagged results that were not exported never do."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from dda.core.safe_image import encode_png

NOISE = [
    encode_png(np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)) for i in range(12)
]


def test_quota_cleans_oldest_first_but_keeps_flagged_unexported(
    client: TestClient, auth: dict[str, str], installed_model: tuple[str, str]
) -> None:
    station = client.app.state.station  # type: ignore[attr-defined]
    source_id = client.get("/api/v1/image-sources", headers=auth).json()[0]["id"]
    workflow = client.post(
        "/api/v1/workflows",
        headers=auth,
        json={"name": "q", "source_id": source_id, "model_name": "bright", "model_version": "1"},
    ).json()

    def run(index: int) -> dict:
        response = client.post(
            f"/api/v1/workflows/{workflow['id']}/run",
            headers=auth,
            files={"file": (f"{index}.png", NOISE[index])},
        )
        assert response.status_code == 200
        return response.json()

    first = [run(i) for i in range(4)]
    per_result = station.store.total_bytes / 4
    client.patch(f"/api/v1/results/{first[0]['id']}", json={"flag_for_review": True}, headers=auth)  # keep
    client.patch(f"/api/v1/results/{first[1]['id']}", json={"flag_for_review": True}, headers=auth)
    client.post(
        "/api/v1/results/export", json={"flagged": True, "until": first[1]["created_at"]}, headers=auth
    )
    # first[0] is flagged and now exported (deletable); first[1] flagged, never exported (kept)
    exported = client.get(f"/api/v1/results/{first[0]['id']}", headers=auth).json()
    assert exported["downloaded"] is True
    assert client.get(f"/api/v1/results/{first[1]['id']}", headers=auth).json()["downloaded"] is False

    station.store.quota_bytes = int(per_result * 6.5)  # room for six results
    later = [run(i) for i in range(4, 12)]
    kept = {
        item["id"]
        for item in client.get("/api/v1/results", params={"limit": 100}, headers=auth).json()["items"]
    }
    assert first[1]["id"] in kept  # flagged and not exported: never cleaned up
    assert first[0]["id"] not in kept and first[2]["id"] not in kept  # the oldest others went first
    assert later[-1]["id"] in kept and later[-2]["id"] in kept
    assert station.store.total_bytes <= station.store.quota_bytes
    for item in first[:1] + first[2:4]:
        assert not station.store.path(item["input_path"]).exists()  # files gone with the rows
    assert station.store.path(first[1]["input_path"]).is_file()
    assert client.get(f"/api/v1/results/{first[0]['id']}", headers=auth).status_code == 404
