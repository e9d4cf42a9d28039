"""Data management, datasets and settings in a real browser against one real `dda portal serve`.

Debian's Chromium driven by Python Playwright; the portal runs as a subprocess on loopback serving
the built web UI (``make web``). A DataScientist uploads real cookie photos (synthetic JPEGs when
the shared dataset is absent), one broken file and a 16 MiB archive (the resumable upload) through
the file picker and sees per-file progress and outcomes, browses the thumbnails, makes a dataset
version from a Ground Truth manifest, looks at its stats and exports it as COCO. A Viewer sees no
mutating button and gets 403 from the API. Every page passes axe-core (no serious or critical
violation) and leaves a screenshot in the module's tmp dir (printed at the end).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.portal.conftest import PASSWORD
from tests.portal.data_support import jpeg_bytes
from tests.portal.portal_process import create_admin, portal_env, running_portal
from tests.portal.test_portal_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    WEB_DIST,
    _assert_accessible,
    _choose,
    _login,
)

COOKIES = Path("/work/shared/datasets/cookies/dataset-files")
BUCKET = "s3://dda-cookie-dataset-571264418424/cookies/dataset-files/training-images/"
PER_CLASS = 4
NEW_PASSWORD = "Another-Password-42!"
MB = 1024 * 1024
RESUMABLE_BYTES = 16 * MB  # RESUMABLE_FROM_BYTES of web/src/portal/api-data.ts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (scripts/system-deps.sh does)"
    ),
    pytest.mark.skipif(
        not (WEB_DIST / "portal.html").is_file(),
        reason="web UI not built (web/dist/portal.html missing); run `make web`",
    ),
]


@dataclass
class Site:
    base_url: str
    usecase_id: str
    browser: Browser
    work: Path
    shots: Path


def _gt_line(name: str, label: int) -> str:
    meta = {
        "job-name": "cookie-classification",
        "class-name": ["normal", "anomaly"][label],
        "human-annotated": "yes",
        "creation-date": "2026-02-15T16:32:43.189795Z",
        "type": "groundtruth/image-classification",
    }
    return json.dumps(
        {"source-ref": BUCKET + name, "cookie-classification": label, "cookie-classification-metadata": meta}
    )


def _photos(work: Path) -> tuple[list[Path], Path]:
    """PER_CLASS normal and anomaly photos, one broken file, and a GT manifest naming the photos."""
    folder = work / "photos"
    folder.mkdir()
    files, lines = [], []
    for label, kind in enumerate(("normal", "anomaly")):
        for i in range(1, PER_CLASS + 1):
            name = f"{kind}-{i}.jpg"
            real = COOKIES / "training-images" / name
            data = real.read_bytes() if real.is_file() else jpeg_bytes(320, 240, seed=label * 100 + i)
            (folder / name).write_bytes(data)
            files.append(folder / name)
            lines.append(_gt_line(name, label))
    broken = folder / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG at all")
    # Over the UI's 16 MiB threshold: sent through the resumable upload API, chunk by chunk.
    big = folder / "big-archive.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as bundle:
        bundle.writestr("extra/photo.jpg", jpeg_bytes(seed=7))
        bundle.writestr("extra/padding.bin", os.urandom(RESUMABLE_BYTES + MB // 2))
    manifest = work / "cookies.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    return [*files, broken, big], manifest


def _api_setup(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        usecase = http.post("/api/v1/usecases", json={"name": "Cookie line"})
        assert usecase.status_code == 201, usecase.text
        usecase_id = str(usecase.json()["id"])
        for username, role in (("dana", "DataScientist"), ("vera", "Viewer")):
            assert (
                http.post("/api/v1/users", json={"username": username, "password": PASSWORD}).status_code
                == 201
            )
            member = http.post(
                f"/api/v1/usecases/{usecase_id}/members", json={"username": username, "role": role}
            )
            assert member.status_code == 201, member.text
        return usecase_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("data-browser")
    env = portal_env(work / "portal")
    create_admin(env, PASSWORD)
    shots = work / "screenshots"
    shots.mkdir()
    with running_portal(env, work / "portal.log", timeout_s=180) as base_url, sync_playwright() as playwright:
        usecase_id = _api_setup(base_url)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # The server answers slowly on a busy test machine: wait as long for text as for clicks.
        expect.set_options(timeout=UI_TIMEOUT_MS)
        try:
            yield Site(base_url, usecase_id, browser, work, shots)
        finally:
            expect.set_options(timeout=5_000)  # Playwright's default, for the other modules
            browser.close()
            print(f"\nscreenshots: {shots}")


def _page(site: Site, username: str) -> Page:
    page = site.browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    _login(page, site.base_url, username)
    return page


def _look(page: Page, site: Site, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=True)
    _assert_accessible(page, name)


def test_data_scientist_uploads_browses_builds_a_version_and_exports(site: Site) -> None:
    files, manifest = _photos(site.work)
    page = _page(site, "dana")
    try:
        page.goto(f"{site.base_url}/#/data")
        page.get_by_test_id("upload-folder").locator("input").fill("cookies")
        page.get_by_test_id("upload-input").locator("input[type=file]").set_input_files(
            [str(p) for p in files]
        )
        rows = page.get_by_test_id("upload-row")
        expect(rows).to_have_count(len(files))
        done = page.locator("[data-testid=upload-row][data-state=done]")
        expect(done).to_have_count(len(files), timeout=120_000)
        expect(rows.filter(has_text="normal-1.jpg")).to_contain_text("stored")
        broken = rows.filter(has_text="broken.jpg")
        expect(broken).to_contain_text("refused")
        expect(broken.get_by_role("progressbar")).to_have_count(0)  # an error result replaces the bar
        expect(rows.filter(has_text="big-archive.zip")).to_contain_text("1 of 2 images stored")
        _look(page, site, "data-uploaded")

        page.get_by_test_id("folder").filter(has_text="cookies").click()
        expect(page.get_by_test_id("thumb-img")).to_have_count(2 * PER_CLASS)
        page.get_by_role("button", name="Preview anomaly-1.jpg").click()
        expect(page.get_by_test_id("preview-img")).to_be_visible()
        expect(page.get_by_test_id("image-delete")).to_be_visible()
        _look(page, site, "data-preview")
        page.get_by_role("button", name="Close", exact=True).click()
        _look(page, site, "data-browse")

        page.get_by_test_id("import-manifest").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        page.get_by_test_id("version-new-name").locator("input").fill("cookies")
        page.get_by_test_id("labels-input").locator("input[type=file]").set_input_files(str(manifest))
        _choose(page, "labels-folder", "cookies")
        expect(page.get_by_test_id("labels-map")).to_contain_text(BUCKET)
        _look(page, site, "dataset-create-version")
        page.get_by_test_id("version-save").click()

        expect(page.get_by_role("heading", name="Version 1")).to_be_visible()
        expect(page.get_by_test_id("version-images")).to_have_text(str(2 * PER_CLASS))
        expect(page.get_by_text("normal, anomaly").first).to_be_visible()
        _look(page, site, "dataset-version")
        with page.expect_download() as download:
            page.get_by_test_id("export-coco").click()
        exported = download.value
        assert exported.suggested_filename == "v1-coco.zip"
        with zipfile.ZipFile(io.BytesIO(Path(exported.path()).read_bytes())) as bundle:
            names = bundle.namelist()
        assert (
            any(n.endswith(".json") for n in names)
            and sum(n.endswith(".jpg") for n in names) == 2 * PER_CLASS
        )

        page.goto(f"{site.base_url}/#/datasets")
        expect(page.get_by_test_id("version-link")).to_have_text("v1")
        _look(page, site, "datasets")
        page.goto(f"{site.base_url}/#/settings")
        expect(page.get_by_test_id("key-download")).to_be_visible()
        expect(page.get_by_test_id("ucsettings-save")).to_have_count(0)  # a DataScientist changes no settings
        page.get_by_test_id("token-create").click()
        page.get_by_test_id("token-name").locator("input").fill("nightly import")
        page.get_by_test_id("token-save").click()
        expect(page.get_by_test_id("token-value")).to_contain_text("ddap_")
        page.get_by_role("button", name="Done").click()
        expect(page.get_by_role("cell", name="nightly import", exact=True)).to_be_visible()
        _look(page, site, "settings")
    except Exception:
        page.screenshot(path=str(site.shots / "failure-dana.png"), full_page=True)
        raise
    finally:
        page.context.close()


def test_viewer_sees_no_mutating_buttons_and_the_api_refuses(site: Site) -> None:
    page = _page(site, "vera")
    try:
        page.goto(f"{site.base_url}/#/data")
        expect(page.get_by_role("heading", name="Data management")).to_be_visible()
        expect(page.get_by_test_id("upload-input")).to_have_count(0)
        expect(page.get_by_test_id("import-manifest")).to_have_count(0)
        _look(page, site, "viewer-data")
        page.goto(f"{site.base_url}/#/datasets")
        expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
        expect(page.get_by_test_id("dataset-create")).to_have_count(0)
        expect(page.get_by_test_id("version-create")).to_have_count(0)
        _look(page, site, "viewer-datasets")
        page.goto(f"{site.base_url}/#/settings")
        expect(page.get_by_test_id("password-save")).to_be_visible()
        for hidden in ("ucsettings-save", "reonboard"):
            expect(page.get_by_test_id(hidden)).to_have_count(0)
        _look(page, site, "viewer-settings")

        # Her own password: a wrong current one is an error on the form (she stays signed in) ...
        page.get_by_label("Current password").fill("not-my-password")
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD)
        page.get_by_test_id("password-save").click()
        expect(page.get_by_text("the current password is wrong")).to_be_visible()
        # ... the right one changes it, and every login of hers ends, this one too.
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_test_id("password-save").click()
        page.get_by_test_id("password-relogin").click()
        expect(page.get_by_test_id("login-submit")).to_be_visible()
    finally:
        page.context.close()
    with httpx.Client(base_url=site.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/login", json={"username": "vera", "password": NEW_PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        base = f"/api/v1/usecases/{site.usecase_id}"
        upload = http.post(f"{base}/data/images", files={"files": ("x.jpg", jpeg_bytes())}, headers=headers)
        assert upload.status_code == 403, upload.text
        made = http.post(f"{base}/datasets", json={"name": "nope"}, headers=headers)
        assert made.status_code == 403, made.text


def test_the_big_archive_went_through_the_resumable_upload(site: Site) -> None:
    """The audit log of the first test's uploads: the archive came in chunks, then was finished."""
    with httpx.Client(base_url=site.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        audit = f"/api/v1/usecases/{site.usecase_id}/audit"
        finished = http.get(audit, params={"action": "data.upload_finish"}, headers=headers)
        assert finished.status_code == 200, finished.text
        assert len(finished.json()["items"]) == 1
        chunks = http.get(audit, params={"action": "data.upload_chunk"}, headers=headers).json()["items"]
        assert chunks and all(c["outcome"] == "success" for c in chunks)
