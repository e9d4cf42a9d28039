"""Data management and datasets: content-addressed objects, the folder tree pointing at them,
resumable uploads, and datasets whose versions are immutable snapshots of image hashes + labels.

Objects are stored once per use case under ``images/sha256/<2 hex>/<sha256>`` of the use case's
store; a folder entry is a name pointing at a hash; a dataset version item pins a hash (and its
mask's hash), so an image a version uses cannot be deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dda.core.db.types import utcnow
from dda.portal.db.base import ID_LENGTH, Base, new_id

HASH_LENGTH = 64
PATH_LENGTH = 512
NAME_LENGTH = 255


class DataObject(Base):
    """One stored blob (image or class-id mask) of a use case, by its SHA-256."""

    __tablename__ = "data_objects"

    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="image")  # image | mask
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(8), default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataFolder(Base):
    """A folder of the use case's data tree ('' is the root and has no row)."""

    __tablename__ = "data_folders"
    __table_args__ = (Index("ix_data_folders_parent", "usecase_id", "parent", "name"),)

    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(PATH_LENGTH), primary_key=True)
    parent: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DataEntry(Base):
    """A named image in a folder, pointing at a stored object."""

    __tablename__ = "data_entries"
    __table_args__ = (
        UniqueConstraint("usecase_id", "folder", "name", name="uq_data_entries_usecase_folder_name"),
        Index("ix_data_entries_usecase_sha256", "usecase_id", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    sha256: Mapped[str] = mapped_column(String(HASH_LENGTH))
    size: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UploadSession(Base):
    """A resumable (tus-style) upload: chunks are appended at ``offset`` until ``total_size``."""

    __tablename__ = "data_uploads"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    folder: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    total_size: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("usecase_id", "name", name="uq_datasets_usecase_name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetVersion(Base):
    """An immutable snapshot: its items, class names, stats, split and the manifest in the store."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_number"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    usecase_id: Mapped[str] = mapped_column(ForeignKey("usecases.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(128))  # upload | labeling[:<job id>] | station | import
    label_format: Mapped[str] = mapped_column(String(16), default="")  # gt | dda | coco | yolo
    manifest_key: Mapped[str] = mapped_column(String(PATH_LENGTH), default="")
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    # class_names, mask_class_names, box_class_names
    classes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    split: Mapped[dict[str, Any]] = mapped_column(default=dict)  # seed, fractions, counts
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)  # validation summary + problems
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetItem(Base):
    """One image of a version: its hash, label, mask hash, boxes and split."""

    __tablename__ = "dataset_items"
    __table_args__ = (
        Index("ix_dataset_items_usecase_sha256", "usecase_id", "sha256"),
        Index("ix_dataset_items_usecase_mask_sha256", "usecase_id", "mask_sha256"),
        Index("ix_dataset_items_version_position", "version_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    usecase_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    sha256: Mapped[str] = mapped_column(String(HASH_LENGTH))
    mask_sha256: Mapped[str | None] = mapped_column(String(HASH_LENGTH), default=None)
    label: Mapped[int] = mapped_column(Integer, default=0)
    boxes: Mapped[list[Any]] = mapped_column(default=list)
    split: Mapped[str] = mapped_column(String(8), default="train")
    source_ref: Mapped[str] = mapped_column(String(1024), default="")
