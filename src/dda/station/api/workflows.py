from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status

from dda.core.errors import InvalidInput
from dda.station.api.deps import Operator, SessionDep, StationDep, Viewer
from dda.station.api.limits import IMAGE_UPLOAD_LIMIT
from dda.station.api.results import result_out
from dda.station.imaging import pipeline_memory, upload_slot
from dda.station.repositories import workflows as workflows_repo
from dda.station.schemas.results import ResultOut
from dda.station.schemas.workflows import WorkflowIn, WorkflowOut
from dda.station.services import workflows as workflows_service

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])
WorkflowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_UPLOAD_BYTES = IMAGE_UPLOAD_LIMIT


@router.get("")
def list_workflows(_: Viewer, session: SessionDep, station: StationDep) -> list[WorkflowOut]:
    return [workflows_service.to_out(station, session, row) for row in workflows_repo.list_all(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_workflow(data: WorkflowIn, _: Operator, session: SessionDep, station: StationDep) -> WorkflowOut:
    return workflows_service.to_out(station, session, workflows_service.create(station, session, data))


@router.get("/{workflow_id}")
def get_workflow(workflow_id: WorkflowId, _: Viewer, session: SessionDep, station: StationDep) -> WorkflowOut:
    return workflows_service.to_out(station, session, workflows_service.get(session, workflow_id))


@router.put("/{workflow_id}")
def update_workflow(
    workflow_id: WorkflowId, data: WorkflowIn, _: Operator, station: StationDep
) -> WorkflowOut:
    """Save; a running workflow restarts with the new config (the inference in flight finishes first)."""
    with station.session() as session:
        workflows_service.update(station, session, workflow_id, data)
    station.workflows.restart_if_running(workflow_id)
    with station.session() as session:
        return workflows_service.to_out(station, session, workflows_service.get(session, workflow_id))


@router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_workflow(workflow_id: WorkflowId, _: Operator, station: StationDep) -> Response:
    with station.session() as session:
        workflows_service.get(session, workflow_id)
    station.workflows.forget(workflow_id)
    with station.session() as session:
        session.delete(workflows_service.get(session, workflow_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{workflow_id}/run")
def run_workflow(
    workflow_id: WorkflowId,
    _: Operator,
    station: StationDep,
    file: Annotated[UploadFile | None, File()] = None,
    part_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    serial: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    lot: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    recipe: Annotated[int | None, Query(ge=0, le=65_535)] = None,
) -> ResultOut:
    """One capture now (or the uploaded image) through the workflow; answers once the result is stored.
    ``part_id`` / ``serial`` / ``lot`` are stored with the result; ``recipe`` selects its model."""
    given = {"part_id": part_id, "serial": serial, "lot": lot, "recipe": recipe}
    detail = {k: v for k, v in given.items() if v is not None}
    if file is None:
        return result_out(station, station.workflows.run(workflow_id, None, "upload", detail))
    with upload_slot():  # few uploads in memory at once, whatever the number of callers
        upload = file.file.read(MAX_UPLOAD_BYTES + 1)
        if len(upload) > MAX_UPLOAD_BYTES:
            raise InvalidInput(
                f"the image is larger than {MAX_UPLOAD_BYTES // 2**20} MiB", hint="send a smaller file"
            )
        with pipeline_memory(upload, file.filename or "upload"):
            row = station.workflows.run(workflow_id, upload, file.filename or "upload", detail)
        del upload
    return result_out(station, row)


@router.post("/{workflow_id}/start")
def start_workflow(workflow_id: WorkflowId, _: Operator, station: StationDep) -> WorkflowOut:
    station.workflows.start(workflow_id)
    with station.session() as session:
        return workflows_service.to_out(station, session, workflows_service.get(session, workflow_id))


@router.post("/{workflow_id}/stop")
def stop_workflow(workflow_id: WorkflowId, _: Operator, station: StationDep) -> WorkflowOut:
    with station.session() as session:
        workflows_service.get(session, workflow_id)
    station.workflows.stop(workflow_id)
    with station.session() as session:
        return workflows_service.to_out(station, session, workflows_service.get(session, workflow_id))
