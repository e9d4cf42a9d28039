from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from fastapi.responses import FileResponse

from dda.station.api.deps import Operator, SessionDep, SignedImage, StationDep, Viewer
from dda.station.context import Station
from dda.station.db.models import InferenceResult
from dda.station.schemas.results import MAX_DB_INT, ResultOut, ResultPage, ResultQuery, ResultReview
from dda.station.services import results as results_service

router = APIRouter(prefix="/api/v1", tags=["results"])
MEDIA = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
ResultId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
CaptureId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-fA-F-]+$")]
KINDS = ("input", "overlay", "mask")


def _result_resource(request: Request) -> str:
    return f"result:{request.path_params.get('result_id')}:{request.query_params.get('kind', 'overlay')}"


def _capture_resource(request: Request) -> str:
    return f"capture:{request.path_params.get('capture_id')}"


def result_out(station: Station, row: InferenceResult) -> ResultOut:
    """The result with short-lived signed URLs of its images (one URL per file)."""
    out = ResultOut.model_validate(row)
    kinds = [k for k in KINDS if k != "mask" or out.has_mask]
    out.image_urls = {
        kind: station.signer.sign(
            f"/api/v1/results/{out.id}/image", f"result:{out.id}:{kind}", {"kind": kind}
        )
        for kind in kinds
    }
    return out


@router.get("/results")
def list_results(
    _: Viewer,
    session: SessionDep,
    station: StationDep,
    workflow_id: Annotated[int | None, Query(ge=0, le=MAX_DB_INT)] = None,
    prediction: Literal["normal", "anomaly"] | None = None,
    flagged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    part_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    serial: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    lot: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
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
    rows, total = results_service.rows(session, query)
    return ResultPage(items=[result_out(station, r) for r in rows], total=total)


@router.get("/results/summary")
def summary(
    _: Viewer, session: SessionDep, workflow_id: Annotated[int | None, Query(ge=0, le=MAX_DB_INT)] = None
) -> dict[str, Any]:
    return results_service.summary(session, workflow_id)


@router.post("/results/export", response_class=FileResponse)
def export(query: ResultQuery, _: Operator, station: StationDep, tasks: BackgroundTasks) -> FileResponse:
    """A zip: images/, masks/ and manifest.jsonl (Ground Truth style) of the matching results."""
    path = results_service.export(station, query)
    tasks.add_task(path.unlink, missing_ok=True)
    return FileResponse(path, media_type="application/zip", filename=path.name)


@router.get("/results/{result_id}")
def get_result(result_id: ResultId, _: Viewer, session: SessionDep, station: StationDep) -> ResultOut:
    return result_out(station, results_service.get(session, result_id))


@router.patch("/results/{result_id}")
def review_result(
    result_id: ResultId, data: ResultReview, _: Operator, session: SessionDep, station: StationDep
) -> ResultOut:
    return result_out(station, results_service.review(session, result_id, data))


@router.get("/results/{result_id}/image", response_class=FileResponse)
def result_image(
    result_id: ResultId,
    _: Annotated[None, SignedImage.depends(_result_resource)],
    session: SessionDep,
    station: StationDep,
    kind: Literal["input", "overlay", "mask"] = "overlay",
) -> FileResponse:
    """One image of a result: with a login, or with the signed URL from the result's image_urls."""
    path = results_service.image_path(station, session, result_id, kind)
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"))


@router.get("/captures/{capture_id}/image", response_class=FileResponse)
def capture_image(
    capture_id: CaptureId,
    _: Annotated[None, SignedImage.depends(_capture_resource)],
    session: SessionDep,
    station: StationDep,
) -> FileResponse:
    path = results_service.capture_image_path(station, session, capture_id)
    return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"))
