"""A labeling job through the API: labeler and reviewer loop (claim, draft, submit, skip, send
back, accept), progress per labeler, and a Ground Truth output manifest that the existing
transform turns into a DDA manifest that trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dda.formats.loader import load_dataset
from dda.formats.transform import transform_gt_to_dda
from dda.ml.training import TrainOptions, train_model
from dda.portal.permissions import Role
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage
from tests.portal.jobs.conftest import TINY, upload_dataset

pytestmark = pytest.mark.slow


def _truth(folder: Path) -> dict[str, int]:
    """Image name -> label of the synthetic set (what a careful labeler would answer)."""
    lines = (folder / "groundtruth.manifest").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return {Path(r["source-ref"]).name: r["synthetic-cookie-classification"] for r in records}


def test_labeling_job_yields_a_manifest_that_trains(sqlite_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = sqlite_portal
    h.make_user("admin", admin=True)
    usecase_id = h.create_usecase(h.login("admin"), "line-1")
    for name in ("lead", "anna", "ben"):
        h.make_user(name, role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    h.make_user("vera", role=Role.VIEWER, usecase_id=usecase_id)
    lead, anna, ben, vera = (h.login(n) for n in ("lead", "anna", "ben", "vera"))
    upload_dataset(h, usecase_id, tmp_path, count=10)
    truth = _truth(tmp_path / "datasets_synth")
    base = f"/api/v1/usecases/{usecase_id}/labeling"
    body = {
        "name": "cookies-round-1",
        "task_type": "classification",
        "labels": ["normal", "anomaly"],
        "instructions": "anomaly: any crack or spot",
        "source": {"store_prefix": "datasets/synth/images"},
        "labelers": ["anna"],
        "reviewers": ["ben"],
    }
    assert h.client.post(base, json={**body, "labelers": ["nobody"]}, headers=lead).status_code == 422
    assert h.client.post(base, json=body, headers=vera).status_code == 403
    created = h.client.post(base, json=body, headers=lead)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    assert created.json()["counts"] == {"pending": 10}
    assert h.client.post(f"{base}/{job_id}/tasks/next", headers=vera).status_code == 403
    assert h.client.post(f"{base}/{job_id}/tasks/next", headers=ben).status_code == 403  # not a labeler

    def name_of(task: dict) -> str:  # type: ignore[type-arg]
        image = h.client.get(task["image_url"], headers=anna)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
        with h.portal.session() as session:
            from dda.portal.db import LabelingTask

            row = session.get(LabelingTask, task["id"])
            return Path(row.image_key).name

    first = h.client.post(f"{base}/{job_id}/tasks/next", headers=anna).json()
    # A draft first; claiming again returns the same unfinished task.
    wrong = {"annotation": {"label": "anomaly" if truth[name_of(first)] == 0 else "normal"}}
    assert (
        h.client.put(f"{base}/{job_id}/tasks/{first['id']}/draft", json=wrong, headers=anna).status_code
        == 200
    )
    assert h.client.post(f"{base}/{job_id}/tasks/next", headers=anna).json()["id"] == first["id"]
    bad = {"annotation": {"label": "scratch"}}
    assert (
        h.client.post(f"{base}/{job_id}/tasks/{first['id']}/submit", json=bad, headers=anna).status_code
        == 422
    )
    assert (
        h.client.post(f"{base}/{job_id}/tasks/{first['id']}/submit", json=wrong, headers=anna).status_code
        == 200
    )
    # The reviewer sends the wrong label back; the labeler gets the task again with the comment.
    review = h.client.post(f"{base}/{job_id}/reviews/next", headers=ben).json()
    assert review["id"] == first["id"]
    assert (
        h.client.post(
            f"{base}/{job_id}/tasks/{first['id']}/review", json={"accept": True}, headers=anna
        ).status_code
        == 403
    )
    sent = h.client.post(
        f"{base}/{job_id}/tasks/{first['id']}/review",
        json={"accept": False, "comment": "look again"},
        headers=ben,
    )
    assert sent.json()["status"] == "sent_back"
    again = h.client.post(f"{base}/{job_id}/tasks/next", headers=anna).json()
    assert again["id"] == first["id"] and again["comment"] == "look again"
    # Label everything (skipping one image), the reviewer accepts every submission.
    skipped = 0
    task = again
    while task is not None:
        if skipped == 0 and task["id"] != first["id"]:
            assert h.client.post(f"{base}/{job_id}/tasks/{task['id']}/skip", headers=anna).status_code == 200
            skipped = 1
        else:
            label = ["normal", "anomaly"][truth[name_of(task)]]
            response = h.client.post(
                f"{base}/{job_id}/tasks/{task['id']}/submit",
                json={"annotation": {"label": label}},
                headers=anna,
            )
            assert response.status_code == 200, response.text
        task = h.client.post(f"{base}/{job_id}/tasks/next", headers=anna).json()
    while (review := h.client.post(f"{base}/{job_id}/reviews/next", headers=ben).json()) is not None:
        assert (
            h.client.post(
                f"{base}/{job_id}/tasks/{review['id']}/review", json={"accept": True}, headers=ben
            ).status_code
            == 200
        )
    status = h.client.get(f"{base}/{job_id}", headers=vera).json()
    assert status["counts"] == {"accepted": 9, "skipped": 1}
    assert status["per_labeler"] == {status["labelers"][0]: {"accepted": 9, "skipped": 1}}
    done = h.client.post(f"{base}/{job_id}/complete", json={}, headers=lead)
    assert done.status_code == 200, done.text
    output = done.json()["output"]
    assert output["images"] == 9 and output["manifest"] == "output.manifest"
    # The output is a Ground Truth manifest: the existing transform applies unchanged, and it trains.
    with h.portal.session() as session:
        row = usecases_repo.by_id(session, usecase_id)
        store = storage.store_for(h.portal, "usecases", row, row.id)
    local = tmp_path / "output"
    for key in store.list(output["store_prefix"] + "/"):
        store.get_file(key, local / key[len(output["store_prefix"]) + 1 :])
    result = transform_gt_to_dda(local / "output.manifest", local / "dda.manifest", progress=False)
    assert result is not None
    dataset = load_dataset(local / "dda.manifest", progress=False)
    assert len(dataset) == 9
    expected = sorted(truth[Path(s.image_path).name.split("-", 1)[1]] for s in dataset.samples)
    assert sorted(s.label for s in dataset.samples) == expected
    trained = train_model(
        dataset,
        "classification",
        tmp_path / "model.tar.gz",
        options=TrainOptions(**{**TINY, "epochs": 1}),
        progress=False,
    )
    assert trained.artifact_path.is_file()
    assert h.client.post(f"{base}/{job_id}/tasks/next", headers=anna).status_code == 409  # the job is over
