"""Image source plugins: configs in one discriminated union, implementations behind one Protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dda.station.plugins.sources.base import Frame, ImageSourcePlugin, NoFrameYet, SourceConfigBase
from dda.station.plugins.sources.folder import FolderSource, FolderSourceConfig
from dda.station.plugins.sources.gige import GigESource, GigESourceConfig
from dda.station.plugins.sources.opencv import OpenCVSource, OpenCVSourceConfig
from dda.station.plugins.sources.synthetic import SyntheticSource, SyntheticSourceConfig
from dda.station.plugins.sources.upload import UploadSource, UploadSourceConfig

SourceConfig = Annotated[
    UploadSourceConfig | FolderSourceConfig | OpenCVSourceConfig | GigESourceConfig | SyntheticSourceConfig,
    Field(discriminator="type"),
]

SOURCE_PLUGINS: dict[str, tuple[type[SourceConfigBase], type]] = {
    "upload": (UploadSourceConfig, UploadSource),
    "folder": (FolderSourceConfig, FolderSource),
    "opencv": (OpenCVSourceConfig, OpenCVSource),
    "gige": (GigESourceConfig, GigESource),
    "synthetic": (SyntheticSourceConfig, SyntheticSource),
}


def build_source(config: SourceConfigBase) -> ImageSourcePlugin:
    """The implementation for a validated config (not opened yet)."""
    _, implementation = SOURCE_PLUGINS[config.type]  # type: ignore[attr-defined]
    plugin: ImageSourcePlugin = implementation(config)
    return plugin


__all__ = [
    "SOURCE_PLUGINS",
    "Frame",
    "ImageSourcePlugin",
    "NoFrameYet",
    "SourceConfig",
    "SourceConfigBase",
    "build_source",
]
