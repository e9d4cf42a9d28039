"""Placing a dataset's images in an export folder: unique names, hard link when possible."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class ExportedImages:
    """Adds images to one folder, keeping their names unless two would clash."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._used: dict[str, Path] = {}

    def add(self, source: Path) -> str:
        """Link or copy ``source`` into the folder; returns the file name it got there."""
        source = Path(source).resolve()
        name = self.name_for(source)
        if self._used.get(name) == source:
            return name
        self._used[name] = source
        target = self.folder / name
        if target.exists() or target.is_symlink():
            target.unlink()
        try:
            os.link(source, target)  # same file system: no copy of the pixels
        except OSError:
            shutil.copy2(source, target)
        return name

    def name_for(self, source: Path) -> str:
        name = source.name
        if name not in self._used or self._used[name] == source:
            return name
        counter = 1
        while f"{source.stem}-{counter}{source.suffix}" in self._used:
            counter += 1
        return f"{source.stem}-{counter}{source.suffix}"
