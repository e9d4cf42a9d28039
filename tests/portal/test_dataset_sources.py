"""Dataset versions from the web UI's dropdown sources: folders (one per class) and an existing
version re-split; on SQLite and PostgreSQL, with the real data tree and store."""

from __future__ import annotations

from typing import Any

from tests.portal.conftest import PortalHarness
from tests.portal.data_support import DataCase, data_case, jpeg_bytes


def _upload_classes(case: DataCase) -> None:
    for folder, seeds in (("line/ok", range(0, 6)), ("line/cracked", range(10, 14))):
        files = [(f"img-{s}.jpg", jpeg_bytes(seed=s)) for s in seeds]
        response = case.upload(files, folder=folder)
        assert response.status_code == 201, response.text


def _dataset(case: DataCase, name: str) -> str:
    response = case.harness.client.post(f"{case.base}/datasets", json={"name": name}, headers=case.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _from_folders(case: DataCase, dataset_id: str, classes: list[tuple[str, str]], **split: object) -> Any:
    body = {"classes": [{"class_name": n, "folder": f} for n, f in classes], "split": split}
    return case.harness.client.post(
        f"{case.base}/datasets/{dataset_id}/versions/from-folders", json=body, headers=case.headers
    )


def test_version_from_folders_then_resplit(portal: PortalHarness) -> None:
    case = data_case(portal)
    _upload_classes(case)
    dataset_id = _dataset(case, "cookies")
    made = _from_folders(
        case,
        dataset_id,
        [("normal", "line/ok"), ("cracked", "line/cracked")],
        seed=1,
        train=0.5,
        val=0.25,
        test=0.25,
    )
    assert made.status_code == 201, made.text
    version = made.json()
    assert version["image_count"] == 10 and version["source"] == "folders"
    assert version["classes"]["class_names"] == ["normal", "cracked"]
    assert version["stats"]["classes"] == {"normal": 6, "cracked": 4}
    assert version["split"]["counts"] == {"train": 4, "val": 3, "test": 3}  # 6 and 4 cut by round()

    # The same images in another dataset, split differently (what "from a labeling job" uses too).
    other = _dataset(case, "cookies-resplit")
    again = case.harness.client.post(
        f"{case.base}/datasets/{other}/versions/from-version",
        json={"version_id": version["id"], "split": {"seed": 2, "train": 1, "val": 0, "test": 0}},
        headers=case.headers,
    )
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["number"] == 1 and body["source"] == f"version:{version['id']}"
    assert body["stats"]["classes"] == {"normal": 6, "cracked": 4}
    assert body["split"]["counts"] == {"train": 10}
    items = case.harness.client.get(
        f"{case.base}/datasets/{other}/versions/{body['id']}/items", headers=case.headers
    ).json()["items"]
    assert {i["sha256"] for i in items} == {
        i["sha256"]
        for i in case.harness.client.get(
            f"{case.base}/datasets/{dataset_id}/versions/{version['id']}/items", headers=case.headers
        ).json()["items"]
    }


def test_bad_sources_are_clear_4xx(portal: PortalHarness) -> None:
    case = data_case(portal)
    _upload_classes(case)
    dataset_id = _dataset(case, "bad")
    empty = _from_folders(case, dataset_id, [("normal", "line/ok"), ("cracked", "nowhere")])
    assert empty.status_code == 422, empty.text
    assert "nowhere" in empty.json()["detail"]
    overlap = _from_folders(case, dataset_id, [("normal", "line"), ("cracked", "line/cracked")])
    assert overlap.status_code == 422 and "both" in overlap.json()["detail"]
    same = _from_folders(case, dataset_id, [("a", "line/ok"), ("a", "line/cracked")])
    assert same.status_code == 422
    one = _from_folders(case, dataset_id, [("a", "line/ok")])
    assert one.status_code == 422
    split = _from_folders(
        case, dataset_id, [("a", "line/ok"), ("b", "line/cracked")], train=0.9, val=0.9, test=0
    )
    assert split.status_code == 422 and "add up to 1" in split.json()["detail"]
    missing = case.harness.client.post(
        f"{case.base}/datasets/{dataset_id}/versions/from-version",
        json={"version_id": "nope"},
        headers=case.headers,
    )
    assert missing.status_code == 404, missing.text
    listed = case.harness.client.get(f"{case.base}/datasets/{dataset_id}/versions", headers=case.headers)
    assert listed.json()["items"] == []  # nothing half-made
