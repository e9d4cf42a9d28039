"""The built web UI (web/dist) at ``/``, with SPA fallback to index.html for client-side routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

RESERVED = ("api/", "v2/", "metrics", "docs", "openapi.json", "redoc")


def find_web_dist() -> Path | None:
    """web/dist of a source checkout (the station also runs from a clone)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "web" / "dist"
        if (candidate / "index.html").is_file():
            return candidate
    return None


def mount_web(app: FastAPI, dist: Path | None) -> None:
    if dist is None:
        return
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def spa(path: str) -> FileResponse:
        if path.startswith(RESERVED):
            raise HTTPException(status_code=404)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root):
            return FileResponse(candidate)
        return FileResponse(root / "index.html", headers={"Cache-Control": "no-cache"})
