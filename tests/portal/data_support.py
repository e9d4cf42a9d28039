"""Helpers for the data and dataset tests: real image bytes, hostile files, a use case to fill."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dda.portal.permissions import Role
from tests.portal.conftest import PortalHarness


def jpeg_bytes(width: int = 96, height: int = 64, seed: int = 0, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 60_000) -> bytes:
    """A tiny PNG whose header declares side x side pixels (3.6 gigapixels of zeros)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # the first rows; the rest would follow
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return out.getvalue()


def zip_bomb(megabytes: int = 64) -> bytes:
    """A zip of a few dozen KB that inflates to ``megabytes`` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle, bundle.open("zeros.jpg", "w") as entry:
        block = b"\x00" * (1024 * 1024)
        for _ in range(megabytes):
            entry.write(block)
    return out.getvalue()


@dataclass
class DataCase:
    """A use case with a DataScientist logged in."""

    harness: PortalHarness
    usecase_id: str
    headers: dict[str, str]
    admin: dict[str, str]

    @property
    def base(self) -> str:
        return f"/api/v1/usecases/{self.usecase_id}"

    def upload(self, files: list[tuple[str, bytes]], folder: str = "", **kwargs: object) -> object:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return self.harness.client.post(
            f"{self.base}/data/images", params={"folder": folder}, files=parts, headers=self.headers, **kwargs
        )

    def browse(self, folder: str = "", **params: object) -> dict:
        response = self.harness.client.get(
            f"{self.base}/data/browse", params={"folder": folder, **params}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return response.json()


def data_case(harness: PortalHarness, name: str = "line1", **usecase: object) -> DataCase:
    harness.make_user("root", admin=True)
    admin = harness.login("root")
    usecase_id = harness.create_usecase(admin, name, **usecase)
    harness.make_user("dana", role=Role.DATA_SCIENTIST, usecase_id=usecase_id)
    return DataCase(harness, usecase_id, harness.login("dana"), admin)


def bytes_used(harness: PortalHarness, usecase_id: str) -> int:
    with harness.portal.session() as session:
        from dda.portal.repositories import usecases as usecases_repo

        row = usecases_repo.by_id(session, usecase_id)
        assert row is not None
        return row.bytes_used


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
