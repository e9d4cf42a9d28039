"""More ways to make a dataset version, for the web UI's dropdowns: from folders of the use case's
data tree (one folder per class), and from an existing version (a labeling job's output, or the
same images with another split). Images are already stored content-addressed; they are fetched to
a work folder so that the version is built by the one code path every other source uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from dda.core.errors import InvalidInput
from dda.formats.dataset import Dataset, Sample
from dda.portal.context import Portal
from dda.portal.db import DatasetVersion
from dda.portal.repositories import data as data_repo
from dda.portal.repositories import usecases as usecases_repo
from dda.portal.services.data import clean_folder, object_key, usecase_store
from dda.portal.services.dataset_labels import report_of
from dda.portal.services.datasets import (
    MAX_VERSION_ITEMS,
    NewVersion,
    SplitSpec,
    get_dataset,
    get_version,
    store_version,
    version_dataset,
)


@dataclass(frozen=True)
class FolderClass:
    """Every image in ``folder`` (and below it) gets the class ``class_name``."""

    class_name: str
    folder: str


def _check_classes(classes: list[FolderClass]) -> list[FolderClass]:
    if len(classes) < 2:
        raise InvalidInput("a dataset needs at least two classes", hint="pick a folder for each class")
    names = [c.class_name.strip() for c in classes]
    if len(set(names)) != len(names) or not all(names):
        raise InvalidInput("class names must be distinct and not empty", hint="rename the repeated class")
    return [FolderClass(n, clean_folder(c.folder)) for n, c in zip(names, classes, strict=True)]


def _folder_samples(
    session: Session, portal: Portal, usecase_id: str, classes: list[FolderClass], work: Path
) -> list[Sample]:
    usecase = usecases_repo.by_id(session, usecase_id)
    assert usecase is not None
    store = usecase_store(portal, usecase)
    seen: dict[str, str] = {}
    samples: list[Sample] = []
    for label, spec in enumerate(classes):
        entries = data_repo.entries_under(session, usecase_id, spec.folder, limit=MAX_VERSION_ITEMS + 1)
        if not entries:
            raise InvalidInput(
                f"folder {spec.folder or '(top)'!r} of class {spec.class_name!r} holds no image",
                hint="upload images into it, or pick another folder",
            )
        for entry in entries:
            if entry.id in seen:
                raise InvalidInput(
                    f"{entry.folder}/{entry.name} is in the folders of both {seen[entry.id]!r} "
                    f"and {spec.class_name!r}",
                    hint="pick folders that do not contain one another",
                )
            seen[entry.id] = spec.class_name
            local = work / "images" / f"{len(samples):06d}-{entry.name}"
            if not local.is_file():
                store.get_file(object_key(entry.sha256), local)
            ref = f"{entry.folder}/{entry.name}" if entry.folder else entry.name
            samples.append(Sample(local, label, None, (), ref, len(samples) + 1))
    if len(samples) > MAX_VERSION_ITEMS:
        raise InvalidInput(f"a version holds at most {MAX_VERSION_ITEMS} images", hint="pick fewer folders")
    return samples


def version_from_folders(
    session: Session,
    portal: Portal,
    usecase_id: str,
    dataset_id: str,
    classes: list[FolderClass],
    split: SplitSpec,
    work: Path,
    actor_id: str | None = None,
) -> DatasetVersion:
    """An image-classification version: the first class is the normal one (label 0)."""
    row = get_dataset(session, usecase_id, dataset_id)
    checked = _check_classes(classes)
    samples = _folder_samples(session, portal, usecase_id, checked, work)
    dataset = Dataset(samples, [c.class_name for c in checked], [], name=row.name)
    new = NewVersion(dataset, "folders", "folders", report_of(None, len(samples)), split)
    return store_version(session, portal, usecase_id, row, new, actor_id)


def version_from_version(
    session: Session,
    portal: Portal,
    usecase_id: str,
    dataset_id: str,
    source_version_id: str,
    split: SplitSpec,
    work: Path,
    actor_id: str | None = None,
) -> DatasetVersion:
    """The images and labels of another version of this use case (any dataset), split anew."""
    row = get_dataset(session, usecase_id, dataset_id)
    source = get_version(session, usecase_id, source_version_id)
    dataset = version_dataset(session, portal, usecase_id, source, work)
    source_name = source.source if source.source.startswith("labeling:") else f"version:{source.id}"
    new = NewVersion(dataset, source_name, source.label_format, dict(source.report), split)
    return store_version(session, portal, usecase_id, row, new, actor_id)
