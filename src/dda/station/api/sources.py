from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from dda.station.api.deps import Operator, SessionDep, StationDep, Viewer
from dda.station.imaging import thumbnail_jpeg
from dda.station.schemas.sources import ImageSourceIn, ImageSourceOut
from dda.station.services import sources as sources_service

router = APIRouter(prefix="/api/v1/image-sources", tags=["image sources"])
SourceId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("")
def list_sources(_: Viewer, session: SessionDep) -> list[ImageSourceOut]:
    from dda.station.repositories import sources as sources_repo

    return [sources_service.to_out(row) for row in sources_repo.list_all(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_source(data: ImageSourceIn, _: Operator, session: SessionDep) -> ImageSourceOut:
    return sources_service.to_out(sources_service.create(session, data))


@router.get("/{source_id}")
def get_source(source_id: SourceId, _: Viewer, session: SessionDep) -> ImageSourceOut:
    return sources_service.to_out(sources_service.get(session, source_id))


@router.put("/{source_id}")
def update_source(
    source_id: SourceId, data: ImageSourceIn, _: Operator, session: SessionDep, station: StationDep
) -> ImageSourceOut:
    return sources_service.to_out(sources_service.update(station, session, source_id, data))


@router.delete("/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_source(source_id: SourceId, _: Operator, session: SessionDep, station: StationDep) -> Response:
    sources_service.delete(station, session, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{source_id}/preview", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}}
)
def preview(source_id: SourceId, _: Operator, session: SessionDep, station: StationDep) -> Response:
    """One frame from the source with its camera settings applied, as JPEG (nothing stored)."""
    row = sources_service.get(session, source_id)
    frame = sources_service.grab_frame(station, row)
    return Response(
        thumbnail_jpeg(frame.image), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )


@router.post("/{source_id}/capture", status_code=status.HTTP_201_CREATED)
def capture(source_id: SourceId, _: Operator, station: StationDep) -> dict[str, Any]:
    """Take one frame and store it (no inference)."""
    out = sources_service.capture_out(sources_service.capture(station, source_id))
    out["image_url"] = station.signer.sign(out["image_url"], f"capture:{out['id']}")  # for <img src>
    return out
