"""What the browser labeling tool adds to the labeling API, on SQLite and PostgreSQL: a job made
from a data-management folder (images copied under the job with their names), the team members a
DataScientist may pick as labelers, the caller's task list (the tool's previous/next) and one task
by id; bad input answers 4xx."""

from __future__ import annotations

import json

from dda.portal.permissions import Role
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services import storage
from tests.portal.conftest import PortalHarness
from tests.portal.data_support import data_case, jpeg_bytes, png_bytes


def test_job_from_a_data_folder_and_the_labelers_task_list(portal: PortalHarness) -> None:
    case = data_case(portal)
    client, dana = portal.client, case.headers
    portal.make_user("rita", role=Role.DATA_SCIENTIST, usecase_id=case.usecase_id)
    portal.make_user("vic", role=Role.VIEWER, usecase_id=case.usecase_id)
    rita, vic = portal.login("rita"), portal.login("vic")
    files = [("b.jpg", jpeg_bytes(seed=1)), ("a.png", png_bytes(seed=2)), ("c.jpg", jpeg_bytes(seed=3))]
    uploaded = case.upload(files, folder="line1/day1")
    assert getattr(uploaded, "status_code", None) == 201
    base = f"{case.base}/labeling"

    people = client.get(f"{base}/people", headers=vic)
    assert people.status_code == 200
    assert {p["username"]: p["role"] for p in people.json()} == {
        "dana": "DataScientist",
        "rita": "DataScientist",
        "vic": "Viewer",
        "root": "UseCaseAdmin",  # the use case's creator
    }
    # The team list itself stays closed to a DataScientist; the labeling view of it is open.
    assert client.get(f"{case.base}/members", headers=dana).status_code == 403

    body = {
        "name": "day-1",
        "task_type": "bounding_box",
        "labels": ["crack", "spot"],
        "source": {"data_folder": "line1/day1"},
        "labelers": ["dana"],
        "reviewers": ["rita"],
    }
    for bad in (
        {"data_folder": "no/such/folder"},
        {"data_folder": "line1/day1", "store_prefix": "x"},
        {"data_folder": "../etc"},
    ):
        answer = client.post(base, json={**body, "source": bad}, headers=dana)
        assert answer.status_code == 422, (bad, answer.text)
    created = client.post(base, json=body, headers=dana)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["counts"] == {"pending": 3} and job["source"] == {"data_folder": "line1/day1"}

    first = client.post(f"{base}/{job['id']}/tasks/next", headers=dana).json()
    image = client.get(first["image_url"], headers=dana)
    assert image.status_code == 200 and image.content == png_bytes(seed=2)  # a.png, by name order
    box = {"boxes": [{"label": "crack", "left": 1, "top": 2, "width": 10, "height": 8}]}
    done = client.post(
        f"{base}/{job['id']}/tasks/{first['id']}/submit", json={"annotation": box}, headers=dana
    )
    assert done.status_code == 200, done.text
    second = client.post(f"{base}/{job['id']}/tasks/next", headers=dana).json()

    mine = client.get(f"{base}/{job['id']}/tasks", params={"mine": "true"}, headers=dana).json()
    assert [(t["id"], t["status"]) for t in mine] == [(first["id"], "submitted"), (second["id"], "assigned")]
    assert client.get(f"{base}/{job['id']}/tasks", params={"mine": "true"}, headers=rita).json() == []
    everything = client.get(f"{base}/{job['id']}/tasks", headers=vic).json()
    assert [t["position"] for t in everything] == [0, 1, 2]
    two = client.get(f"{base}/{job['id']}/tasks", params={"limit": 2}, headers=vic).json()
    assert [t["position"] for t in two] == [0, 1]
    assert client.get(f"{base}/{job['id']}/tasks", params={"limit": 0}, headers=vic).status_code == 422
    submitted = client.get(f"{base}/{job['id']}/tasks", params={"status": "submitted"}, headers=vic).json()
    assert [t["id"] for t in submitted] == [first["id"]]
    assert client.get(f"{base}/{job['id']}/tasks", params={"status": "lost"}, headers=vic).status_code == 422

    one = client.get(f"{base}/{job['id']}/tasks/{first['id']}", headers=vic)
    assert one.status_code == 200 and one.json()["annotation"] == box
    assert client.get(f"{base}/{job['id']}/tasks/nope", headers=vic).status_code == 404
    assert client.get(f"{base}/nope/tasks", headers=vic).status_code == 404

    # The reviewer accepts the box; the export carries it (zero-based class id, the job's class map).
    assert client.post(f"{base}/{job['id']}/reviews/next", headers=rita).json()["id"] == first["id"]
    accepted = client.post(
        f"{base}/{job['id']}/tasks/{first['id']}/review", json={"accept": True}, headers=rita
    )
    assert accepted.status_code == 200, accepted.text
    completed = client.post(f"{base}/{job['id']}/complete", json={"partial": True}, headers=dana)
    assert completed.status_code == 200, completed.text
    output = completed.json()["output"]
    with portal.portal.session() as session:
        row = usecases_repo.by_id(session, case.usecase_id)
        assert row is not None
        store = storage.store_for(portal.portal, "usecases", row, case.usecase_id)
    (record,) = [
        json.loads(line) for line in store.get_bytes(f"{output['store_prefix']}/output.manifest").splitlines()
    ]
    assert record["day-1-detection"]["annotations"] == [
        {"class_id": 0, "left": 1, "top": 2, "width": 10, "height": 8}
    ]
    assert record["day-1-detection-metadata"]["class-map"] == {"0": "crack", "1": "spot"}
