"""Image source plugins: configs in one discriminated union, implementations behind one Protocol."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dda.station.plugins.family import build_plugin, plugin_table
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

SOURCE_PLUGINS: dict[str, tuple[type[SourceConfigBase], type]] = plugin_table(
    (UploadSourceConfig, UploadSource),
    (FolderSourceConfig, FolderSource),
    (OpenCVSourceConfig, OpenCVSource),
    (GigESourceConfig, GigESource),
    (SyntheticSourceConfig, SyntheticSource),
)


def build_source(config: SourceConfigBase) -> ImageSourcePlugin:
    """The implementation for a validated config (not opened yet)."""
    plugin: ImageSourcePlugin = build_plugin(SOURCE_PLUGINS, config)
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
