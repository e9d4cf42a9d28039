"""Image sources: CRUD, preview and single capture."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from dda.core.errors import Conflict, NotFound
from dda.station.context import Station
from dda.station.db.models import Capture, ImageSource
from dda.station.plugins.processing import apply_camera_settings
from dda.station.plugins.sources import Frame, build_source
from dda.station.repositories import sources as sources_repo
from dda.station.schemas.sources import ImageSourceIn, ImageSourceOut
from dda.station.services import configs
from dda.station.services.result_store import ResultContext

PREVIEW_TIMEOUT_S = 5.0


def to_out(row: ImageSource) -> ImageSourceOut:
    config = configs.load_source(row.config)
    camera = configs.load_camera(row.camera)
    return ImageSourceOut(
        id=row.id,
        name=row.name,
        type=row.type,
        config=configs.to_public(config),
        camera=camera.model_dump(mode="json"),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get(session: Session, source_id: int) -> ImageSource:
    row = sources_repo.by_id(session, source_id)
    if row is None:
        raise NotFound(
            f"image source {source_id} does not exist", hint="list them with GET /api/v1/image-sources"
        )
    return row


def _check_name(session: Session, name: str, own_id: int | None) -> None:
    other = sources_repo.by_name(session, name)
    if other is not None and other.id != own_id:
        raise Conflict(f"an image source named {name!r} already exists", hint="choose another name")


def create(session: Session, data: ImageSourceIn) -> ImageSource:
    _check_name(session, data.name, None)
    row = ImageSource(
        name=data.name,
        type=data.config.type,
        config=configs.to_storage(data.config),
        camera=data.camera.model_dump(mode="json"),
    )
    session.add(row)
    session.flush()
    return row


def update(station: Station, session: Session, source_id: int, data: ImageSourceIn) -> ImageSource:
    row = get(session, source_id)
    _check_name(session, data.name, row.id)
    _refuse_if_running(station, source_id, "edit")
    row.name = data.name
    row.type = data.config.type
    row.config = configs.keep_masked_secrets(configs.to_storage(data.config), row.config)
    row.camera = data.camera.model_dump(mode="json")
    session.flush()
    return row


def delete(station: Station, session: Session, source_id: int) -> None:
    row = get(session, source_id)
    users = sources_repo.workflow_names_using(session, source_id)
    if users:
        raise Conflict(
            f"image source {row.name!r} is used by workflows {', '.join(users)}",
            hint="delete those workflows or point them at another source first",
        )
    session.delete(row)


def _refuse_if_running(station: Station, source_id: int, action: str) -> None:
    running = station.workflows.running_on_source(source_id)
    if running:
        raise Conflict(
            f"cannot {action} the image source while workflows {', '.join(running)} run on it",
            hint="stop those workflows first",
        )


def grab_frame(station: Station, row: ImageSource) -> Frame:
    """One processed frame: through a running workflow's open camera, or by opening the source."""
    frame = station.workflows.grab_from_running(row.id)
    if frame is not None:
        return frame
    source = build_source(configs.load_source(row.config))
    camera = configs.load_camera(row.camera)
    source.open()
    try:
        hardware = source.configure(camera)
        frame = source.grab(PREVIEW_TIMEOUT_S)
    finally:
        source.close()
    image = apply_camera_settings(frame.image, camera, hardware)
    if camera.roi is not None or camera.pipeline:
        frame = Frame(image=image, origin=frame.origin, captured_at=frame.captured_at)
    return frame


def capture(station: Station, source_id: int) -> Capture:
    with station.session() as session:
        row = get(session, source_id)
    started = time.perf_counter()
    frame = grab_frame(station, row)
    frame.metadata["grab_ms"] = (time.perf_counter() - started) * 1000
    capture = station.store.save_capture(frame, ResultContext("manual", source_id=source_id))
    if station.store.over_quota():
        station.store.enforce_quota()
    return capture


def capture_out(capture: Capture) -> dict[str, Any]:
    return {
        "id": capture.id,
        "source_id": capture.source_id,
        "capture_type": capture.capture_type,
        "width": capture.width,
        "height": capture.height,
        "created_at": capture.created_at,
        "image_url": f"/api/v1/captures/{capture.id}/image",
    }
