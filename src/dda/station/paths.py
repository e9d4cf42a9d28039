"""Where the station keeps its files: one place decides every path under the station dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dda.core.settings import Settings


@dataclass(frozen=True)
class StationPaths:
    """The station's directories. All live under ``<data_dir>/station`` by default."""

    root: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> StationPaths:
        return cls(settings.station_dir)

    @property
    def model_repo(self) -> Path:
        """Installed model packages, Triton layout: ``<name>/<version>/...``."""
        return self.root / "models"

    @property
    def trusted_keys(self) -> Path:
        """Public keys (PEM) whose signatures the station accepts on model packages."""
        return self.root / "trusted_keys"

    @property
    def results(self) -> Path:
        """One folder per capture: input image, mask, overlay and a Ground-Truth style JSON line."""
        return self.root / "results"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def downloads(self) -> Path:
        """Model packages being downloaded from a URL before they are verified."""
        return self.root / "downloads"

    def ensure(self) -> None:
        for path in (
            self.root,
            self.model_repo,
            self.trusted_keys,
            self.results,
            self.exports,
            self.downloads,
        ):
            path.mkdir(parents=True, exist_ok=True)
