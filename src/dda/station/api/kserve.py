"""KServe v2 / Open Inference Protocol endpoints (health needs no login; models and infer do)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

import dda
from dda.core.errors import NotFound
from dda.station.api.deps import Operator, Public, StationDep, Viewer
from dda.station.memory import release_memory
from dda.station.services import kserve

router = APIRouter(prefix="/v2", tags=["kserve v2"])


@router.get("")
def server_metadata(_: Public) -> dict[str, Any]:
    return {"name": "dda-station", "version": dda.__version__, "extensions": ["binary_tensor_data"]}


@router.get("/health/live")
def live(_: Public) -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready")
def ready(_: Public, station: StationDep) -> Response:
    with station.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return JSONResponse({"ready": True})


def _ready(station: Any, name: str, version: str | None) -> Response:
    chosen = kserve.resolve_version(station, name, version)
    if not station.registry.is_loaded(name, chosen):
        raise NotFound(
            f"model {name} version {chosen} is installed but not loaded",
            hint=f"POST /api/v1/models/{name}/{chosen}/load",
        )
    return JSONResponse({"name": name, "version": chosen, "ready": True})


@router.get("/models/{name}")
def model_metadata(name: str, _: Viewer, station: StationDep) -> dict[str, Any]:
    return kserve.model_metadata(station, name, None)


@router.get("/models/{name}/versions/{version}")
def model_version_metadata(name: str, version: str, _: Viewer, station: StationDep) -> dict[str, Any]:
    return kserve.model_metadata(station, name, version)


@router.get("/models/{name}/ready")
def model_ready(name: str, _: Viewer, station: StationDep) -> Response:
    return _ready(station, name, None)


@router.get("/models/{name}/versions/{version}/ready")
def model_version_ready(name: str, version: str, _: Viewer, station: StationDep) -> Response:
    return _ready(station, name, version)


async def _infer(request: Request, station: Any, name: str, version: str | None) -> Response:
    async with station.kserve_slots:  # few request bodies and tensors in memory at once
        body = await request.body()
        parsed = kserve.parse_request(body, request.headers.get(kserve.HEADER_LENGTH))
        image = kserve.image_input(parsed)
        chosen = kserve.resolve_version(station, name, version)

        def run() -> dict[str, Any]:
            with station.registry.lease(name, chosen) as model:
                return model.forward(image)  # type: ignore[no-any-return]

        outputs = await run_in_threadpool(run)
        payload, header_length = kserve.build_response(name, chosen, parsed, outputs)
        del body, parsed
        release_memory()
    if header_length is None:
        return Response(payload, media_type="application/json")
    return Response(
        payload, media_type="application/octet-stream", headers={kserve.HEADER_LENGTH: str(header_length)}
    )


INFER_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "datatype": {"type": "string"},
                                    "shape": {"type": "array", "items": {"type": "integer"}},
                                    "data": {"type": "array"},
                                    "parameters": {"type": "object"},
                                },
                                "required": ["name", "datatype", "shape"],
                            },
                        },
                        "outputs": {"type": "array", "items": {"type": "object"}},
                    },
                    "required": ["inputs"],
                }
            }
        }
    }
}


@router.post("/models/{name}/infer", openapi_extra=INFER_BODY)
async def infer(name: str, request: Request, _: Operator, station: StationDep) -> Response:
    return await _infer(request, station, name, None)


@router.post("/models/{name}/versions/{version}/infer", openapi_extra=INFER_BODY)
async def infer_version(
    name: str, version: str, request: Request, _: Operator, station: StationDep
) -> Response:
    return await _infer(request, station, name, version)
