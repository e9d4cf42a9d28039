"""A station workflow wired to a PLC over Modbus TCP (pymodbus' server on loopback): the PLC
writes part id and recipe and raises its trigger; the station captures from its camera (a folder
source here), infers, stores the result with the part id, and answers verdict, result code, score
and done. The recipe number switches the model and threshold for that part."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from dda.core.safe_image import encode_png
from tests.station.modelkit import solid, write_installed_package
from tests.station.plc_util import DONE, RESULT_CODE, TRIGGER, VERDICT, ModbusPlc, modbus_plc


def _answer(plc: ModbusPlc, part_id: str, recipe: int) -> tuple[int, float]:
    """The PLC program: request, wait for done, read the result, drop the trigger, see done drop."""
    plc.request(part_id, recipe)
    deadline = time.monotonic() + 20
    while plc.read(DONE) != [1]:
        assert time.monotonic() < deadline, "the station never raised done"
        time.sleep(0.02)
    verdict, code, score = plc.read(VERDICT)[0], plc.read(RESULT_CODE)[0], plc.score()
    plc.write(TRIGGER, [0])
    while plc.read(DONE) != [0]:
        assert time.monotonic() < deadline, "the station never dropped done"
        time.sleep(0.02)
    assert code == 0
    return verdict, score


def test_plc_triggers_a_workflow_and_gets_traceable_answers(
    client: TestClient, auth: dict[str, str], tmp_path: Path
) -> None:
    station = client.app.state.station  # type: ignore[attr-defined]
    write_installed_package(station.paths.model_repo, "bright", "1")
    write_installed_package(station.paths.model_repo, "bright", "2")
    camera = tmp_path / "camera"
    camera.mkdir()
    for index in range(2):
        (camera / f"part{index}.png").write_bytes(encode_png(solid(250)))
    source = client.post(
        "/api/v1/image-sources",
        json={"name": "cam", "config": {"type": "folder", "path": str(camera), "min_age_s": 0}},
        headers=auth,
    )
    assert source.status_code == 201, source.text
    with modbus_plc() as plc:
        link = {"host": "127.0.0.1", "port": plc.port}
        body = {
            "name": "plc-line",
            "source_id": source.json()["id"],
            "model_name": "bright",
            "model_version": "1",
            # result_timeout_s far above the test's wait: a failure must be answered as such (code 1)
            "triggers": [{"type": "modbus", "poll_ms": 5, "result_timeout_s": 60, **link}],
            "outputs": [{"type": "modbus", **link}],
        }
        workflow = client.post("/api/v1/workflows", json=body, headers=auth)
        assert workflow.status_code == 201, workflow.text
        wid = workflow.json()["id"]
        recipes = {"recipes": {"3": {"model_name": "bright", "model_version": "2", "threshold": 0.99}}}
        assert client.put(f"/api/v1/workflows/{wid}/recipes", json=recipes, headers=auth).status_code == 200
        assert client.post(f"/api/v1/workflows/{wid}/start", headers=auth).json()["state"] == "running"
        try:
            time.sleep(0.2)  # the trigger reads the low trigger first
            verdict, score = _answer(plc, "A-0001", 0)
            assert verdict == 2 and abs(score - 250 / 255) < 0.01  # a bright part is a defect for v1
            time.sleep(0.05)
            verdict, _ = _answer(plc, "A-0002", 3)  # recipe 3: model v2 at threshold 0.99
            assert verdict == 1
            time.sleep(0.05)
            plc.request("A-0003", 7)  # a recipe the workflow does not have: the capture fails
            started = time.monotonic()
            while plc.read(DONE) != [1]:
                assert time.monotonic() - started < 5, "no prompt answer to a failed capture"
                time.sleep(0.02)
            assert plc.read(RESULT_CODE) == [1] and plc.read(VERDICT) == [0]  # error, no verdict
            plc.write(TRIGGER, [0])
            while plc.read(DONE) != [0]:
                assert time.monotonic() - started < 10, "the station never dropped done"
                time.sleep(0.02)
        finally:
            client.post(f"/api/v1/workflows/{wid}/stop", headers=auth)
    first = client.get("/api/v1/results", params={"part_id": "A-0001"}, headers=auth).json()["items"]
    second = client.get("/api/v1/results", params={"part_id": "A-0002"}, headers=auth).json()["items"]
    assert len(first) == 1 and first[0]["capture_type"] == "modbus" and first[0]["model_version"] == "1"
    assert len(second) == 1 and second[0]["recipe"] == 3 and second[0]["model_version"] == "2"
    assert second[0]["prediction"] == "normal" and second[0]["threshold"] == 0.99
