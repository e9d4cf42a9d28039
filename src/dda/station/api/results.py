from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import FileResponse

from dda.station.api.deps import CurrentUser, SessionDep, StationDep
from dda.station.schemas.results import ResultOut, ResultPage, ResultQuery, ResultReview
from dda.station.services import results as results_service

router = APIRouter(prefix="/api/v1", tags=["results"])
MEDIA = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@router.get("/results")
def list_results(
    _: CurrentUser,
    session: SessionDep,
    workflow_id: int | None = None,
    prediction: Literal["normal", "anomaly"] | None = None,
    flagged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    part_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    serial: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    lot: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ResultPage:
    query = ResultQuery(
        workflow_id=workflow_id,
        prediction=prediction,
        flagged=flagged,
        since=since,
        until=until,
        part_id=part_id,
        serial=serial,
        lot=lot,
        limit=limit,
        offset=offset,
    )
    return results_service.page(session, query)


@router.get("/results/summary")
def summary(_: CurrentUser, session: SessionDep, workflow_id: int | None = None) -> dict[str, Any]:
    return results_service.summary(session, workflow_id)


@router.post("/results/export", response_class=FileResponse)
def export(query: ResultQuery, _: CurrentUser, station: StationDep, tasks: BackgroundTasks) -> FileResponse:
    """A zip: images/, masks/ and manifest.jsonl (Ground Truth style) of the matching results."""
    path = results_service.export(station, query)
    tasks.add_task(path.unlink, missing_ok=True)
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.get("/results/{result_id}")
def get_result(result_id: int, _: CurrentUser, session: SessionDep) -> ResultOut:
    return ResultOut.model_validate(results_service.get(session, result_id))


@router.patch("/results/{result_id}")
def review_result(result_id: int, data: ResultReview, _: CurrentUser, session: SessionDep) -> ResultOut:
    return ResultOut.model_validate(results_service.review(session, result_id, data))


@router.get("/results/{result_id}/image", response_class=FileResponse)
def result_image(
    result_id: int,
    _: CurrentUser,
    session: SessionDep,
    station: StationDep,
    kind: Literal["input", "overlay", "mask"] = "overlay",
) -> FileResponse:
    path = results_service.image_path(station, session, result_id, kind)
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"))


@router.get("/captures/{capture_id}/image", response_class=FileResponse)
def capture_image(capture_id: str, _: CurrentUser, session: SessionDep, station: StationDep) -> FileResponse:
    path = results_service.capture_image_path(station, session, capture_id)
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"))
