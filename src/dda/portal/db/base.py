"""Declarative base of the portal database (SQLite in WAL mode by default, PostgreSQL to scale out)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

from dda.core.db.types import NAMING_CONVENTION, UTCDateTime

ID_LENGTH = 36


def new_id() -> str:
    """Random ids: nothing to enumerate, nothing that overflows an integer column."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }
