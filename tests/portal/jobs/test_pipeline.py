"""Train and publish on the embedded executor: training -> compile x86_64 FP32 + INT8 -> signed
packages -> components, each step a job linked to its parent; a failed step stops the chain and
"retry from here" resumes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage
from tests.portal.jobs.chain import check_compiled, check_published, follow, next_step, start_chain
from tests.portal.jobs.conftest import setup_usecase, upload_discs, wait_done, wait_job

pytestmark = pytest.mark.slow


def _delete_prefix(harness, usecase_id: str, prefix: str) -> None:  # type: ignore[no-untyped-def]
    with harness.portal.session() as session:
        row = usecases_repo.by_id(session, usecase_id)
        store = storage.store_for(harness.portal, "usecases", row, row.id)
    for key in store.list(prefix):
        store.delete(key)


@pytest.mark.timeout(1800)  # minutes on an idle box; far more on a shared, loaded one
def test_train_and_publish_with_retry_from_a_failed_step(jobs_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    headers, usecase_id = setup_usecase(jobs_portal)
    dataset = upload_discs(jobs_portal, usecase_id, tmp_path)
    train_id = start_chain(jobs_portal, headers, usecase_id, dataset)
    # Once training has read its data, take the dataset away: compilation (which calibrates on
    # it) fails, and the chain stops there with the reason.
    wait_job(
        jobs_portal,
        headers,
        usecase_id,
        train_id,
        lambda j: j["current_step"] not in ("", "starting", "loading dataset"),
    )
    _delete_prefix(jobs_portal, usecase_id, "datasets/discs/")
    train = wait_done(jobs_portal, headers, usecase_id, train_id)
    assert train["status"] == "succeeded", (train["error"], train["error_hint"])
    compile_job = next_step(jobs_portal, headers, usecase_id, train_id)
    assert compile_job["type"] == "compilation"
    assert compile_job["status"] == "failed"
    assert "empty" in compile_job["error"]
    detail = jobs_portal.client.get(
        f"/api/v1/usecases/{usecase_id}/jobs/{compile_job['id']}", headers=headers
    ).json()
    assert detail["chain"] == []  # nothing after the failed step
    # Put the data back and retry from the failed step: the chain resumes to the end.
    upload_discs(jobs_portal, usecase_id, tmp_path / "again")
    response = jobs_portal.client.post(
        f"/api/v1/usecases/{usecase_id}/jobs/{compile_job['id']}/retry", headers=headers
    )
    assert response.status_code == 201, response.text
    retried = wait_done(jobs_portal, headers, usecase_id, response.json()["id"])
    assert retried["status"] == "succeeded", (retried["error"], retried["error_hint"])
    assert retried["parent_id"] == train_id and retried["retry_of"] == compile_job["id"]
    precisions = check_compiled(retried)
    follow(jobs_portal, headers, usecase_id, retried, "packaging", "publishing")
    check_published(jobs_portal, headers, usecase_id, tmp_path / "published", precisions)
    whole = jobs_portal.client.get(f"/api/v1/usecases/{usecase_id}/jobs/{train_id}", headers=headers).json()
    assert [j["type"] for j in whole["chain"]] == ["compilation", "compilation", "packaging", "publishing"]
