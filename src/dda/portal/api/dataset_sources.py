"""Dataset versions from sources the web UI picks from dropdowns: folders of the data tree (one
per class) and an existing version (a labeling job's output, or the same images re-split)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from dda.portal.api.audit_middleware import record
from dda.portal.api.datasets import version_out
from dda.portal.api.deps import Access, PortalDep, require
from dda.portal.context import Portal
from dda.portal.db import DatasetVersion
from dda.portal.permissions import Permission
from dda.portal.schemas.datasets import SplitIn, VersionFromFolders, VersionFromVersion, VersionOut
from dda.portal.services import dataset_sources
from dda.portal.services.audit import AuditEntry
from dda.portal.services.datasets import SplitSpec
from dda.portal.services.uploads import temp_dir

router = APIRouter(prefix="/api/v1/usecases/{usecase_id}/datasets", tags=["datasets"])
Write = Annotated[Access, Depends(require(Permission.DATASET_WRITE))]


def _split(body: SplitIn) -> SplitSpec:
    return SplitSpec(seed=body.seed, train=body.train, val=body.val, test=body.test).check()


def _build(portal: Portal, make: Callable[..., DatasetVersion]) -> VersionOut:
    """Run ``make(session, work)`` in one transaction with a work folder removed afterwards."""
    work = temp_dir(portal)
    try:
        with portal.session() as session:
            return version_out(make(session, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _audit(request: Request, out: VersionOut, dataset_id: str, source: str) -> None:
    summary = {"dataset_id": dataset_id, "number": out.number, "images": out.image_count, "from": source}
    record(
        request,
        AuditEntry(
            action="dataset.version_create", target_type="dataset_version", target_id=out.id, summary=summary
        ),
    )


@router.post("/{dataset_id}/versions/from-folders", response_model=VersionOut, status_code=201)
async def version_from_folders(
    usecase_id: str,
    dataset_id: str,
    body: VersionFromFolders,
    request: Request,
    portal: PortalDep,
    access: Write,
) -> VersionOut:
    split = _split(body.split)
    classes = [dataset_sources.FolderClass(c.class_name, c.folder) for c in body.classes]
    actor = access.principal.user_id
    out = await run_in_threadpool(
        _build,
        portal,
        lambda session, work: dataset_sources.version_from_folders(
            session, portal, usecase_id, dataset_id, classes, split, work, actor
        ),
    )
    _audit(request, out, dataset_id, "folders")
    return out


@router.post("/{dataset_id}/versions/from-version", response_model=VersionOut, status_code=201)
async def version_from_version(
    usecase_id: str,
    dataset_id: str,
    body: VersionFromVersion,
    request: Request,
    portal: PortalDep,
    access: Write,
) -> VersionOut:
    split = _split(body.split)
    actor = access.principal.user_id
    out = await run_in_threadpool(
        _build,
        portal,
        lambda session, work: dataset_sources.version_from_version(
            session, portal, usecase_id, dataset_id, body.version_id, split, work, actor
        ),
    )
    _audit(request, out, dataset_id, f"version:{body.version_id}")
    return out
