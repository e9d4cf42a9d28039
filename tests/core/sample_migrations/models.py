"""The schema the sample migrations build, as SQLAlchemy metadata (what a plane's models declare)."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, String, Table

metadata = MetaData()

lines = Table(
    "lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
)

inspections = Table(
    "inspections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("line_id", Integer, ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("image_key", String(1024), nullable=False),
    Column("score", Float, nullable=False),
    Column("camera", String(64), nullable=False, server_default="default"),
    Index("ix_inspections_camera", "camera"),
)
