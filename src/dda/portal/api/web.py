"""The built portal web UI (web/dist/portal.html and its assets) at ``/``.

Client-side routes use the URL hash, so every path that is not a file of the build answers
portal.html. API routes keep priority: this catch-all is added after every router, and it never
answers for the API, OpenAPI or metrics paths (those 404 as JSON-less misses instead of the page).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse

from dda.portal.api.deps import public

PORTAL_PAGE = "portal.html"
RESERVED = ("api/", "metrics", "docs", "openapi.json", "redoc")


def find_web_dist() -> Path | None:
    """web/dist of a source checkout, when it holds the portal build."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "web" / "dist"
        if (candidate / PORTAL_PAGE).is_file():
            return candidate
    return None


def mount_web(app: FastAPI, dist: Path | None) -> None:
    """Serve ``dist`` (a Vite build holding portal.html) at ``/``; nothing when there is no build."""
    if dist is None or not (dist / PORTAL_PAGE).is_file():
        return
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False, dependencies=[Depends(public())])
    def portal_ui(path: str) -> FileResponse:
        if path.startswith(RESERVED):
            raise HTTPException(status_code=404)
        candidate = (root / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(root) and candidate.suffix != ".html":
            return FileResponse(candidate)
        return FileResponse(root / PORTAL_PAGE, headers={"Cache-Control": "no-cache"})
