"""The improvement loop: results the stations uploaded go into a dataset, as a new version made
of the dataset's latest version plus the chosen results, each labelled with the operator's review
on the station when there is one, else the station's own verdict. Training picks it up from there."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput, NotFound
from dda.core.storage import ObjectStore
from dda.formats.dataset import ANOMALY_CLASS, NORMAL_CLASS, Dataset, Sample
from dda.portal.context import Portal
from dda.portal.db import DatasetVersion, Device, DeviceResult
from dda.portal.repositories import datasets as datasets_repo
from dda.portal.services import datasets as datasets_service
from dda.portal.services import storage
from dda.portal.services import usecases as usecases_service
from dda.portal.services.dataset_labels import report_of

INPUT_NAMES = ("input.jpg", "input.png")


@dataclass(frozen=True)
class Added:
    version: DatasetVersion
    added: int
    from_review: int


def chosen_results(
    session: Session, usecase_id: str, result_ids: list[str]
) -> list[tuple[DeviceResult, Device]]:
    wanted = list(dict.fromkeys(result_ids))
    rows = session.execute(
        select(DeviceResult, Device)
        .join(Device, Device.id == DeviceResult.device_id)
        .where(DeviceResult.usecase_id == usecase_id, DeviceResult.id.in_(wanted))
    ).all()
    found = {result.id: (result, device) for result, device in rows}
    missing = [r for r in wanted if r not in found]
    if missing:
        raise NotFound(
            f"no uploaded result {missing[0]!r} in this use case ({len(missing)} missing)",
            hint="pick results from GET .../devices/{device}/results",
        )
    return [found[r] for r in wanted]


def label_of(result: DeviceResult) -> tuple[str, bool]:
    """(class name, from the operator's review?)"""
    if result.review in (NORMAL_CLASS, ANOMALY_CLASS):
        return result.review, True
    if result.verdict in (NORMAL_CLASS, ANOMALY_CLASS):
        return result.verdict, False
    raise InvalidInput(
        f"result {result.capture_id} has no usable verdict ({result.verdict!r})", hint="leave it out"
    )


def _base(session: Session, portal: Portal, usecase_id: str, dataset_id: str, work: Path) -> Dataset | None:
    latest = datasets_repo.versions(session, dataset_id, before=None, limit=1)
    if not latest:
        return None
    return datasets_service.version_dataset(session, portal, usecase_id, latest[0], work / "base")


def _sample(
    store: ObjectStore, result: DeviceResult, device: Device, class_names: list[str], work: Path
) -> Sample:
    name = next((n for n in INPUT_NAMES if n in result.files), None)
    if name is None:
        raise InvalidInput(f"result {result.capture_id} was uploaded without its image", hint="leave it out")
    label, _ = label_of(result)
    if label not in class_names:
        raise InvalidInput(f"the dataset has no class {label!r}", hint="pick a normal/anomaly dataset")
    target = work / "results" / f"{device.name}-{result.capture_id}{Path(name).suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    store.get_file(f"{result.prefix}/{name}", target)
    return Sample(target, class_names.index(label), source_ref=target.name)


def add_to_dataset(
    session: Session,
    portal: Portal,
    usecase_id: str,
    result_ids: list[str],
    dataset_name: str,
    *,
    only_reviewed: bool,
    actor_id: str | None,
) -> Added:
    results = chosen_results(session, usecase_id, result_ids)
    if only_reviewed:
        results = [(r, d) for r, d in results if r.review is not None]
        if not results:
            raise InvalidInput(
                "none of the chosen results was reviewed", hint="review them on the station first"
            )
    dataset_row = datasets_service.dataset_named(session, usecase_id, dataset_name, actor_id)
    usecase = usecases_service.get(session, usecase_id)
    store = storage.store_for(portal, "usecases", usecase, usecase.id)
    with tempfile.TemporaryDirectory(prefix="dda-results-to-dataset-") as tmp:
        work = Path(tmp)
        base = _base(session, portal, usecase_id, dataset_row.id, work) or Dataset(samples=[])
        samples = [_sample(store, r, d, base.class_names, work) for r, d in results]
        dataset = Dataset(
            samples=[*base.samples, *samples],
            class_names=base.class_names,
            mask_class_names=base.mask_class_names,
            box_class_names=base.box_class_names,
        )
        new = datasets_service.NewVersion(
            dataset,
            f"device results ({len(samples)})",
            "manifest",
            report_of(None, len(dataset.samples)),
            datasets_service.SplitSpec(),
        )
        version = datasets_service.store_version(session, portal, usecase_id, dataset_row, new, actor_id)
    reviewed = sum(1 for r, _ in results if label_of(r)[1])
    return Added(version=version, added=len(samples), from_review=reviewed)
