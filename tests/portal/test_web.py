"""The portal serves its built web UI at ``/`` (src/dda/portal/api/web.py); API routes keep priority."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dda.portal.app import create_app
from tests.portal.conftest import portal_settings


def _dist(root: Path) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "portal.html").write_text("<html>portal app</html>")
    (dist / "index.html").write_text("<html>station app</html>")
    (dist / "assets" / "portal-1.js").write_text("console.log('portal')")
    (root / "secret.txt").write_text("outside the build")
    return dist


def test_the_ui_is_served_and_the_api_keeps_priority(isolated_settings: Path, tmp_path: Path) -> None:
    dist = _dist(tmp_path / "web")
    app = create_app(portal_settings(isolated_settings, None), configure_logs=False, web_dist=dist)
    with TestClient(app) as client:
        for path in ("/", "/anything/deep", "/index.html", "/..%2Fsecret.txt", "/assets/../../secret.txt"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.text == "<html>portal app</html>", path
            assert page.headers["cache-control"] == "no-cache"
        asset = client.get("/assets/portal-1.js")
        assert asset.status_code == 200 and "portal" in asset.text
        assert client.get("/api/v1/health").json()["status"] == "ok"
        missing = client.get("/api/v1/no-such-route")
        assert missing.status_code == 404 and "portal app" not in missing.text
        assert client.get("/openapi.json").json()["info"]["title"] == "DDA portal"
        assert client.get("/api/v1/auth/me").status_code == 401  # the API's own rules still apply


def test_no_build_means_no_catch_all(isolated_settings: Path, tmp_path: Path) -> None:
    app = create_app(
        portal_settings(isolated_settings, None), configure_logs=False, web_dist=tmp_path / "none"
    )
    with TestClient(app) as client:
        assert client.get("/").status_code == 404
