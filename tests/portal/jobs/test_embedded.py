"""The embedded executor: a training job through the API runs in a child process of the portal,
streams per-epoch metrics, and registers its model; cancel stops a running training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dda.ml.device import describe_device, resolve_device
from tests.portal.jobs.conftest import TINY, setup_usecase, upload_dataset, wait_done, wait_job

pytestmark = pytest.mark.slow


def test_training_job_runs_and_reports(jobs_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    headers, usecase_id = setup_usecase(jobs_portal)
    dataset = upload_dataset(jobs_portal, usecase_id, tmp_path)
    body = {"type": "training", "parameters": {"dataset": dataset, "model_name": "cookie", "options": TINY}}
    response = jobs_portal.client.post(f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    job = wait_done(jobs_portal, headers, usecase_id, job_id)
    assert job["status"] == "succeeded", (job["error"], job["error_hint"])
    assert job["progress"] == 100.0
    assert job["result"]["model"]["model_name"] == "cookie"
    assert job["result"]["model"]["version_id"]  # registered in the use case's model registry
    assert job["result"]["device"] == describe_device(resolve_device("auto"))  # "cpu" on this machine
    assert job["result"]["epochs_run"] == 2
    metrics = jobs_portal.client.get(
        f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/logs", params={"kind": "metric"}, headers=headers
    ).json()
    assert [m["data"]["epoch"] for m in metrics] == [1, 2]
    assert all("val_loss" in m["data"] for m in metrics)
    # The same events as a server-sent stream (the job is over, so the stream ends).
    with jobs_portal.client.stream(
        "GET", f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/events", headers=headers
    ) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert text.count("event: metric") == 2
    assert "event: end" in text
    listed = jobs_portal.client.get(f"/api/v1/usecases/{usecase_id}/jobs", headers=headers).json()
    assert [j["id"] for j in listed["items"]] == [job_id]
    # Evaluation of the new model on the dataset: metrics with the confusion matrix, curves, worst images.
    body = {
        "type": "evaluation",
        "parameters": {"model": job["result"]["model"], "dataset": dataset, "worst": 3},
    }
    response = jobs_portal.client.post(f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    evaluation = wait_done(jobs_portal, headers, usecase_id, response.json()["id"])
    assert evaluation["status"] == "succeeded", (evaluation["error"], evaluation["error_hint"])
    result = evaluation["result"]
    assert sum(map(sum, result["metrics"]["image"]["confusion_matrix"])) == 16
    assert len(result["roc"]["fpr"]) == len(result["roc"]["tpr"]) > 2
    assert len(result["worst_images"]) == 3
    assert result["device"] == describe_device(resolve_device("auto"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error path")
def test_training_on_cuda_without_a_gpu_fails_with_a_hint(jobs_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    headers, usecase_id = setup_usecase(jobs_portal)
    dataset = upload_dataset(jobs_portal, usecase_id, tmp_path, count=8)
    options = {**TINY, "device": "cuda"}
    body = {"type": "training", "parameters": {"dataset": dataset, "options": options}}
    bad = {"type": "training", "parameters": {"dataset": dataset, "options": {"device": "tpu"}}}
    url = f"/api/v1/usecases/{usecase_id}/jobs"
    assert jobs_portal.client.post(url, json=bad, headers=headers).status_code == 422
    response = jobs_portal.client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text  # the worker, not the API server, has the GPU
    job = wait_done(jobs_portal, headers, usecase_id, response.json()["id"])
    assert job["status"] == "failed" and "sees no CUDA GPU" in job["error"]
    assert "GPU worker on the train queue" in job["error_hint"]


def test_cancel_a_running_training(jobs_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    headers, usecase_id = setup_usecase(jobs_portal)
    dataset = upload_dataset(jobs_portal, usecase_id, tmp_path)
    options = {**TINY, "epochs": 200, "patience": 200}
    body = {"type": "training", "parameters": {"dataset": dataset, "options": options}}
    job_id = jobs_portal.client.post(
        f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers
    ).json()["id"]
    # Wait for the first epoch, then cancel: the trainer stops at the next step (its GracefulStop).
    wait_job(jobs_portal, headers, usecase_id, job_id, lambda j: j["current_step"].startswith("epoch"))
    response = jobs_portal.client.post(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/cancel", headers=headers)
    assert response.status_code == 200, response.text
    job = wait_done(jobs_portal, headers, usecase_id, job_id)
    assert job["status"] == "cancelled", (job["error"], job["error_hint"])
    assert job["result"] == {}
    again = jobs_portal.client.post(f"/api/v1/usecases/{usecase_id}/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409


def test_a_job_past_its_timeout_fails(jobs_portal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    headers, usecase_id = setup_usecase(jobs_portal)
    dataset = upload_dataset(jobs_portal, usecase_id, tmp_path)
    options = {**TINY, "epochs": 200, "patience": 200}
    body = {"type": "training", "parameters": {"dataset": dataset, "options": options}, "timeout_s": 2}
    job_id = jobs_portal.client.post(
        f"/api/v1/usecases/{usecase_id}/jobs", json=body, headers=headers
    ).json()["id"]
    job = wait_done(jobs_portal, headers, usecase_id, job_id)
    assert job["status"] == "failed"
    assert job["error"].startswith("timed out") and "timeout_s" in job["error_hint"]
