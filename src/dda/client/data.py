"""Data and datasets of a use case: upload (batches and resumable), browse, versions, export.

from dda.client.data import DataApi, DatasetsApi
data = DataApi(client.http)
result = data.upload(usecase_id, [Path("a.jpg"), Path("photos.zip")], folder="line1")
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dda.client.base import Http
from dda.portal.schemas.data import BatchOut, BrowseOut, ImageOut, UploadOut
from dda.portal.schemas.datasets import DatasetOut, ItemOut, VersionOut

UPLOAD_BATCH_BYTES = 64 * 1024 * 1024
RESUMABLE_FROM_BYTES = 128 * 1024 * 1024


class DataApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _base(self, usecase_id: str) -> str:
        return f"/api/v1/usecases/{usecase_id}/data"

    def upload(self, usecase_id: str, paths: Sequence[Path], *, folder: str = "") -> BatchOut:
        """Upload files in multipart batches of at most ~64 MB (large files go resumable); the
        outcomes of every batch are merged."""
        items: list[Any] = []
        batch: list[Path] = []
        size = 0
        for path in paths:
            length = Path(path).stat().st_size
            if length >= RESUMABLE_FROM_BYTES:
                items += self.upload_resumable(usecase_id, Path(path), folder=folder).items
                continue
            if batch and size + length > UPLOAD_BATCH_BYTES:
                items += self._upload_batch(usecase_id, batch, folder).items
                batch, size = [], 0
            batch.append(Path(path))
            size += length
        if batch:
            items += self._upload_batch(usecase_id, batch, folder).items
        counts: dict[str, int] = {"stored": 0, "duplicate": 0, "exists": 0, "rejected": 0}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
        return BatchOut(counts=counts, items=items)

    def _upload_batch(self, usecase_id: str, paths: list[Path], folder: str) -> BatchOut:
        with ExitStack() as stack:
            files = [
                ("files", (p.name, stack.enter_context(p.open("rb")), "application/octet-stream"))
                for p in paths
            ]
            body = self._post_batch(usecase_id, folder, files)
        return BatchOut.model_validate(body)

    def _post_batch(self, usecase_id: str, folder: str, files: list[Any]) -> Any:
        """A batch whose files were all refused answers 422/507 with the outcomes: keep them."""
        from dda.client.base import PortalError

        response = self._http._send(
            "POST", f"{self._base(usecase_id)}/images", params={"folder": folder}, files=files
        )
        if response.status_code == 401 and self._http.refresh_token and self._http._refresh():
            for _, (_, handle, _) in files:
                handle.seek(0)
            response = self._http._send(
                "POST", f"{self._base(usecase_id)}/images", params={"folder": folder}, files=files
            )
        body = response.json() if response.content else {}
        if response.status_code in (422, 507) and isinstance(body, dict) and "items" in body:
            return body
        if response.status_code >= 400:
            raise PortalError.from_response(response)
        return body

    def upload_resumable(self, usecase_id: str, path: Path, *, folder: str = "") -> BatchOut:
        """Upload one large file in chunks; resumes from the server's offset after a failure."""
        size = path.stat().st_size
        body = {"folder": folder, "name": path.name, "size": size}
        upload = UploadOut.model_validate(
            self._http.json("POST", f"{self._base(usecase_id)}/uploads", json=body)
        )
        url = f"{self._base(usecase_id)}/uploads/{upload.id}"
        offset = 0
        with path.open("rb") as handle:
            while offset < size:
                handle.seek(offset)
                chunk = handle.read(upload.chunk_size)
                try:
                    self._http.request(
                        "PATCH",
                        url,
                        content=chunk,
                        headers={
                            "Upload-Offset": str(offset),
                            "Content-Type": "application/offset+octet-stream",
                        },
                    )
                    offset += len(chunk)
                except Exception:
                    # resume where the server is
                    offset = UploadOut.model_validate(self._http.json("GET", url)).offset
        return BatchOut.model_validate(self._http.json("POST", f"{url}/finish"))

    def browse(
        self, usecase_id: str, folder: str = "", *, cursor: str | None = None, limit: int = 100
    ) -> BrowseOut:
        params: dict[str, Any] = {"folder": folder, "limit": limit, **({"cursor": cursor} if cursor else {})}
        return BrowseOut.model_validate(
            self._http.json("GET", f"{self._base(usecase_id)}/browse", params=params)
        )

    def images(self, usecase_id: str, folder: str = "") -> Iterator[ImageOut]:
        cursor: str | None = None
        while True:
            page = self.browse(usecase_id, folder, cursor=cursor, limit=500)
            yield from page.images
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def delete(self, usecase_id: str, entry_id: str) -> None:
        self._http.request("DELETE", f"{self._base(usecase_id)}/images/{entry_id}")


class DatasetsApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _base(self, usecase_id: str) -> str:
        return f"/api/v1/usecases/{usecase_id}/datasets"

    def list(self, usecase_id: str) -> builtins.list[DatasetOut]:
        return list(self._http.pages(DatasetOut, self._base(usecase_id)))

    def create(self, usecase_id: str, name: str, description: str = "") -> DatasetOut:
        body = {"name": name, "description": description}
        return DatasetOut.model_validate(self._http.json("POST", self._base(usecase_id), json=body))

    def find(self, usecase_id: str, ref: str) -> DatasetOut | None:
        return next((d for d in self.list(usecase_id) if ref in (d.id, d.name)), None)

    def versions(self, usecase_id: str, dataset_id: str) -> builtins.list[VersionOut]:
        return list(self._http.pages(VersionOut, f"{self._base(usecase_id)}/{dataset_id}/versions"))

    def create_version(
        self,
        usecase_id: str,
        dataset_id: str,
        labels: Path,
        *,
        label_format: str = "gt",
        images_folder: str = "",
        mappings: dict[str, str] | None = None,
        seed: int = 0,
    ) -> VersionOut:
        """A version from a labels file over images already uploaded; a PortalError (422) carries
        the validation report's first problem when the labels have errors."""
        form: dict[str, Any] = {
            "format": label_format,
            "images_folder": images_folder,
            "seed": str(seed),
            "map": [f"{k}={v}" for k, v in (mappings or {}).items()],
        }
        with labels.open("rb") as handle:
            path = f"{self._base(usecase_id)}/{dataset_id}/versions"
            body = self._http.json("POST", path, data=form, files={"labels": (labels.name, handle)})
        return VersionOut.model_validate(body)

    def items(self, usecase_id: str, dataset_id: str, version_id: str) -> builtins.list[ItemOut]:
        path = f"{self._base(usecase_id)}/{dataset_id}/versions/{version_id}/items"
        return list(self._http.pages(ItemOut, path))

    def export(self, usecase_id: str, dataset_id: str, version_id: str, dest: Path, fmt: str = "gt") -> Path:
        """Download the version as a zip (gt, dda, coco or yolo) to ``dest``."""
        path = f"{self._base(usecase_id)}/{dataset_id}/versions/{version_id}/export"
        response = self._http.request("GET", path, params={"format": fmt})
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(response.content)
        return dest
