"""The model registry: models and versions, upload, ONNX import, stage, compare, packages."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dda.client.base import Http, PortalError
from dda.portal.schemas.models import (
    CompareOut,
    ModelOut,
    OnnxInspectOut,
    PackageOut,
    StageResult,
    VersionDetail,
    VersionOut,
)

CHUNK = 1 << 20


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class ModelsApi:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _base(usecase_id: str) -> str:
        return f"/api/v1/usecases/{usecase_id}/models"

    def list(self, usecase_id: str) -> list[ModelOut]:
        return list(self._http.pages(ModelOut, self._base(usecase_id)))

    def versions(
        self, usecase_id: str, model_id: str, *, stage: str | None = None
    ) -> builtins.list[VersionOut]:
        path = f"{self._base(usecase_id)}/{model_id}/versions"
        pages = (
            self._http.pages(VersionOut, path, stage=stage) if stage else self._http.pages(VersionOut, path)
        )
        return builtins.list(pages)

    def version(self, usecase_id: str, version_id: str) -> VersionDetail:
        return self._http.model(VersionDetail, "GET", f"{self._base(usecase_id)}/versions/{version_id}")

    def find_version(self, usecase_id: str, ref: str) -> VersionOut:
        """A version by id, or by ``MODEL:N`` (model name and version number)."""
        name, _, number = ref.rpartition(":")
        if name and number.isdigit():
            for model in self.list(usecase_id):
                if model.name == name:
                    for version in self.versions(usecase_id, model.id):
                        if version.version == int(number):
                            return version
            raise PortalError(
                404,
                f"no version {ref!r} in this use case",
                code="not_found",
                hint="list them with `dda portal models list USECASE`",
            )
        return self.version(usecase_id, ref)

    def upload(self, usecase_id: str, name: str, artifact: Path, *, description: str = "") -> VersionOut:
        """Register an externally trained model.tar.gz (streamed, never read into memory whole)."""
        return self._http.model(
            VersionOut,
            "POST",
            f"{self._base(usecase_id)}/upload",
            params={"name": name, "description": description},
            content=_chunks(Path(artifact)),
            headers={"Content-Type": "application/gzip"},
        )

    def inspect_onnx(self, usecase_id: str, onnx_file: Path) -> OnnxInspectOut:
        return self._http.model(
            OnnxInspectOut,
            "POST",
            f"{self._base(usecase_id)}/onnx/inspect",
            content=_chunks(Path(onnx_file)),
            headers={"Content-Type": "application/octet-stream"},
        )

    def import_onnx(
        self,
        usecase_id: str,
        import_id: str,
        name: str,
        spec: dict[str, Any],
        *,
        description: str = "",
        dataset_version_id: str | None = None,
    ) -> VersionOut:
        body: dict[str, Any] = {
            "import_id": import_id,
            "name": name,
            "spec": spec,
            "description": description,
        }
        if dataset_version_id:
            body["dataset_version_id"] = dataset_version_id
        return self._http.model(VersionOut, "POST", f"{self._base(usecase_id)}/onnx/import", json=body)

    def set_stage(
        self, usecase_id: str, version_id: str, stage: str, *, reason: str = "", demote_to: str = "staging"
    ) -> StageResult:
        return self._http.model(
            StageResult,
            "PUT",
            f"{self._base(usecase_id)}/versions/{version_id}/stage",
            json={"stage": stage, "reason": reason, "demote_to": demote_to},
        )

    def compare(self, usecase_id: str, a: str, b: str) -> CompareOut:
        return self._http.model(
            CompareOut, "GET", f"{self._base(usecase_id)}/compare", params={"a": a, "b": b}
        )

    def packages(self, usecase_id: str, version_id: str) -> builtins.list[PackageOut]:
        return self._http.models(
            PackageOut, "GET", f"{self._base(usecase_id)}/versions/{version_id}/packages"
        )

    def metrics(self, usecase_id: str, version_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self._http.json(
            "GET", f"{self._base(usecase_id)}/versions/{version_id}/metrics"
        )
        return body

    def download(self, usecase_id: str, version_id: str, dest: Path) -> Path:
        response = self._http.request("GET", f"{self._base(usecase_id)}/versions/{version_id}/artifact")
        dest = Path(dest)
        dest.write_bytes(response.content)
        return dest

    def delete_version(self, usecase_id: str, version_id: str) -> None:
        self._http.request("DELETE", f"{self._base(usecase_id)}/versions/{version_id}")
