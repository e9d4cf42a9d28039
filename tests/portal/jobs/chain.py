"""The train-and-publish chain as a client drives it, shared by the executor tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dda.core.signing import load_public_key
from dda.packaging import verify_package
from tests.portal.conftest import PortalHarness
from tests.portal.jobs.conftest import wait_done

# The options tests/ml export INT8 with: a confident model, whose scores INT8 reproduces.
CHAIN = {"input_size": [64, 64], "batch_size": 8, "epochs": 3, "patience": 5, "num_threads": 1}


def start_chain(
    harness: PortalHarness, headers: dict[str, str], usecase_id: str, dataset: dict[str, Any]
) -> str:
    body = {
        "parameters": {"dataset": dataset, "model_name": "cookie", "options": CHAIN},
        "targets": ["x86_64-cpu"],
        "precisions": ["fp32", "int8"],
    }
    response = harness.client.post(
        f"/api/v1/usecases/{usecase_id}/jobs/train-and-publish", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    assert response.json()["pipeline"] is True
    return job_id


def next_step(
    harness: PortalHarness, headers: dict[str, str], usecase_id: str, parent_id: str
) -> dict[str, Any]:
    """The (newest) job the parent started, once it is over."""
    listed = harness.client.get(
        f"/api/v1/usecases/{usecase_id}/jobs", params={"parent_id": parent_id}, headers=headers
    ).json()["items"]
    assert listed, f"job {parent_id} started no next step"
    return wait_done(harness, headers, usecase_id, listed[0]["id"])


def follow(
    harness: PortalHarness, headers: dict[str, str], usecase_id: str, job: dict[str, Any], *types: str
) -> list[dict[str, Any]]:
    """Follow the chain through the given step types, each of which must succeed."""
    steps = []
    for job_type in types:
        job = next_step(harness, headers, usecase_id, job["id"])
        assert job["type"] == job_type
        assert job["status"] == "succeeded", (job_type, job["error"], job["error_hint"])
        steps.append(job)
    return steps


def check_compiled(compile_job: dict[str, Any]) -> list[str]:
    """FP32 and INT8 were both built and gated; returns the precisions that passed the gate (an
    INT8 export the gate refuses is reported with its parity report, and the chain goes on)."""
    exports, refused = compile_job["result"]["exports"], compile_job["result"]["refused"]
    assert sorted(e["precision"] for e in exports + refused) == ["fp32", "int8"]
    assert all(e["parity"]["passed"] for e in exports)
    assert all(r["parity"]["passed"] is False and r["parity"]["failures"] for r in refused)
    assert "fp32" in [e["precision"] for e in exports]
    return sorted(e["precision"] for e in exports)


def check_published(
    harness: PortalHarness, headers: dict[str, str], usecase_id: str, work: Path, precisions: list[str]
) -> None:
    """A model component per packaged precision, whose package verifies with the use case's key."""
    components = harness.client.get(f"/api/v1/usecases/{usecase_id}/components", headers=headers).json()
    names = sorted(c["name"] for c in components)
    expected = {"fp32": "model-cookie-x86_64-cpu", "int8": "model-cookie-x86_64-cpu-int8"}
    assert names == sorted(expected[p] for p in precisions)
    pem = harness.client.get(f"/api/v1/usecases/{usecase_id}/signing-keys/active.pem", headers=headers).text
    for component in components:
        assert component["version"] == "1.0.0"
        assert component["platform"] == "linux/amd64"
        assert component["config_schema"]["type"] == "object"
        response = harness.client.get(
            f"/api/v1/usecases/{usecase_id}/components/{component['id']}/package", headers=headers
        )
        assert response.status_code == 200
        archive = work / f"{component['name']}.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(response.content)
        manifest = verify_package(archive, [load_public_key(pem.encode())])
        assert manifest.precision in ("fp32", "int8")
