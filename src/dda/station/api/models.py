from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from dda.core.errors import InvalidInput
from dda.station.api.deps import Admin, SessionDep, StationDep, Viewer
from dda.station.schemas.models import ModelOut, ModelUrlIn
from dda.station.services import models as models_service

router = APIRouter(prefix="/api/v1/models", tags=["models"])
MAX_JSON_BYTES = 64 * 1024


async def _small_body(request: Request) -> bytes:
    """The JSON body, refused past MAX_JSON_BYTES (this route's cap is sized for package uploads)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise InvalidInput("the JSON body is too large", hint='send {"url": "https://..."}')
    return bytes(body)


@router.get("")
def list_models(_: Viewer, session: SessionDep, station: StationDep) -> list[ModelOut]:
    return models_service.list_models(station, session)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/json": {"schema": ModelUrlIn.model_json_schema()},
            }
        }
    },
)
async def install_model(request: Request, _: Admin, station: StationDep) -> ModelOut:
    """Install a package: multipart upload (field ``file``) or JSON ``{"url": ...}``."""
    from starlette.concurrency import run_in_threadpool

    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput(
                "the form has no file field", hint="send the package as multipart field 'file'"
            )
        name, version = await run_in_threadpool(models_service.install_upload, station, upload.file)
    elif content_type.startswith("application/json"):
        data = ModelUrlIn.model_validate_json(await _small_body(request))
        name, version = await run_in_threadpool(models_service.install_url, station, data.url)
    else:
        raise InvalidInput(
            f"unsupported content type {content_type!r}",
            hint="send multipart/form-data with 'file', or JSON {\"url\": ...}",
        )
    with station.session() as session:
        return models_service.get_model(station, session, name, version)


@router.get("/{name}/{version}")
def get_model(name: str, version: str, _: Viewer, session: SessionDep, station: StationDep) -> ModelOut:
    return models_service.get_model(station, session, name, version)


@router.delete("/{name}/{version}", status_code=status.HTTP_204_NO_CONTENT)
def delete_model(name: str, version: str, _: Admin, session: SessionDep, station: StationDep) -> Response:
    models_service.delete_model(station, session, name, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/{version}/load")
def load_model(name: str, version: str, _: Admin, session: SessionDep, station: StationDep) -> ModelOut:
    models_service.load_model(station, name, version)
    return models_service.get_model(station, session, name, version)


@router.post("/{name}/{version}/unload")
def unload_model(name: str, version: str, _: Admin, session: SessionDep, station: StationDep) -> ModelOut:
    models_service.unload_model(station, name, version)
    return models_service.get_model(station, session, name, version)
