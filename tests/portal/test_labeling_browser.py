"""The labeling tool in a real browser against a real `dda portal serve` on loopback.

Debian's Chromium driven by Python Playwright. A DataScientist uploads cookie photos (the shared
set in /work/shared/datasets/cookies; synthetic photos when it is absent), creates a bounding-box
job through the form's dropdowns, and labels with real mouse drags: a box (its autosaved draft
survives a reload), a polygon by clicks, a brush stroke, a classification by keyboard. A second
DataScientist reviews: sends one image back with a comment, which the labeler then sees, and
accepts another. The exports (Ground Truth manifests in the use case's store) hold the
annotations. Each labeling page passes axe-core (no serious or critical violation); screenshots
go to the test's tmp dir (printed).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import create_admin, portal_env, running_portal
from tests.portal.test_portal_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    WEB_DIST,
    _assert_accessible,
    _choose,
)

COOKIES = Path("/work/shared/datasets/cookies/dataset-files/training-images")
FOLDER = "cookies/batch-1"

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


def _photos() -> list[tuple[str, bytes]]:
    """Two cookie photos: the real ones when the shared set is here, else synthetic ones."""
    real = sorted(COOKIES.glob("anomaly-*.jpg"))[:2] if COOKIES.is_dir() else []
    if len(real) == 2:
        return [(p.name, p.read_bytes()) for p in real]
    out = []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        pixels = np.full((768, 576, 3), 180, np.uint8) + rng.integers(0, 40, (768, 576, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG")
        out.append((f"synthetic-{seed}.jpg", buffer.getvalue()))
    return out


@dataclass
class Site:
    url: str
    data_dir: Path
    shots: Path
    usecase_id: str
    tokens: dict[str, dict[str, Any]]

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            timeout=60,
            headers={"Authorization": f"Bearer {self.tokens[who]['access_token']}"},
        )

    def manifest_dir(self, job_id: str) -> Path:
        """Where the job's export landed in the use case's store (a local folder here)."""
        found = [p for p in self.data_dir.rglob("output.manifest") if job_id in p.as_posix()]
        assert len(found) == 1, found
        return found[0].parent

    def manifest(self, job_id: str) -> list[dict[str, Any]]:
        text = (self.manifest_dir(job_id) / "output.manifest").read_text()
        return [json.loads(line) for line in text.splitlines()]


def _setup(url: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Through the REST API: a use case, two DataScientists, the photos in a data folder."""

    def login(who: str) -> dict[str, Any]:
        body = {"username": who, "password": PASSWORD}
        return dict(httpx.post(f"{url}/api/v1/auth/login", json=body, timeout=30).json())

    root = {"Authorization": f"Bearer {login('root')['access_token']}"}
    with httpx.Client(base_url=url, timeout=60, headers=root) as http:
        usecase = http.post("/api/v1/usecases", json={"name": "Cookie line"})
        assert usecase.status_code == 201, usecase.text
        usecase_id = usecase.json()["id"]
        for name in ("dana", "rita"):
            assert (
                http.post("/api/v1/users", json={"username": name, "password": PASSWORD}).status_code == 201
            )
            member = http.post(
                f"/api/v1/usecases/{usecase_id}/members", json={"username": name, "role": "DataScientist"}
            )
            assert member.status_code == 201, member.text
    tokens = {"dana": login("dana"), "rita": login("rita")}
    files = [("files", (name, data, "image/jpeg")) for name, data in _photos()]
    uploaded = httpx.post(
        f"{url}/api/v1/usecases/{usecase_id}/data/images",
        params={"folder": FOLDER},
        files=files,
        headers={"Authorization": f"Bearer {tokens['dana']['access_token']}"},
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    return usecase_id, tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("labeling")
    env = portal_env(tmp / "portal")
    create_admin(env, PASSWORD)
    shots = tmp / "screenshots"
    shots.mkdir()
    print(f"\nlabeling screenshots: {shots}")
    with running_portal(env, tmp / "portal.log", timeout_s=180) as url:  # a busy CI box is slow
        usecase_id, tokens = _setup(url)
        yield Site(url, tmp / "portal", shots, usecase_id, tokens)


@pytest.fixture(scope="module")
def page(site: Site) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1440, "height": 1000})
        tab.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield tab
        finally:
            browser.close()


def _as(page: Page, site: Site, who: str, route: str) -> None:
    """Open `route` signed in as `who` (the tokens the login page would store)."""
    page.goto(f"{site.url}/")
    token = site.tokens[who]
    page.evaluate(
        """([access, refresh, usecase]) => {
            localStorage.setItem('dda.portal.access', access);
            localStorage.setItem('dda.portal.refresh', refresh);
            localStorage.setItem('dda.portal.usecase', usecase);
        }""",
        [token["access_token"], token["refresh_token"], site.usecase_id],
    )
    page.goto(f"{site.url}/#{route}")
    page.reload()
    expect(page.get_by_role("button", name=f"Signed in as {who}")).to_be_visible()


def _check(page: Page, site: Site, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=True)
    _assert_accessible(page, name)


def _canvas(page: Page) -> tuple[float, float]:
    """The top-left corner of the labeling canvas, once the image is in."""
    canvas = page.get_by_test_id("label-canvas")
    expect(canvas).to_be_visible(timeout=2 * UI_TIMEOUT_MS)  # fetch and decode the photo on a busy box
    box = canvas.bounding_box()
    assert box is not None
    return box["x"], box["y"]


def _drag(page: Page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()


def _job(site: Site, name: str, task_type: str, labels: list[str]) -> str:
    body = {
        "name": name,
        "task_type": task_type,
        "labels": labels,
        "source": {"data_folder": FOLDER},
        "labelers": ["dana"],
    }
    with site.api("dana") as http:
        created = http.post(f"/api/v1/usecases/{site.usecase_id}/labeling", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _complete(site: Site, job_id: str) -> None:
    with site.api("dana") as http:
        done = http.post(
            f"/api/v1/usecases/{site.usecase_id}/labeling/{job_id}/complete", json={"partial": True}
        )
    assert done.status_code == 200, done.text


def test_label_review_and_export_in_the_browser(site: Site, page: Page) -> None:
    # The DataScientist creates a bounding-box job through the form's dropdowns.
    _as(page, site, "dana", "/labeling")
    _check(page, site, "labeling-list-empty")
    page.get_by_test_id("labeling-create").click()
    page.get_by_test_id("labeling-name").locator("input").fill("cookie-cracks")
    _choose(page, "labeling-source", FOLDER)
    _choose(page, "labeling-type", "Bounding boxes")
    page.get_by_test_id("labeling-labels").locator("input").fill("crack, spot")
    _choose(page, "labeling-labelers", "dana")
    page.keyboard.press("Escape")
    _choose(page, "labeling-reviewers", "rita")
    page.keyboard.press("Escape")
    page.get_by_test_id("labeling-save").click()
    expect(page.get_by_role("heading", name="cookie-cracks")).to_be_visible()
    job_id = page.url.rsplit("/", 1)[-1]
    _check(page, site, "labeling-job")

    # A box by a real drag; the autosaved draft survives a reload.
    page.get_by_test_id("labeling-start").click()
    x, y = _canvas(page)
    _drag(page, [(x + 300, y + 200), (x + 420, y + 330)])
    expect(page.get_by_test_id("label-summary")).to_have_text("1 box")
    expect(page.get_by_test_id("draft-status")).to_have_attribute("data-state", "saved")
    page.reload()
    _canvas(page)
    expect(page.get_by_test_id("label-summary")).to_have_text("1 box")
    _check(page, site, "labeling-tool-box")
    page.keyboard.press("Enter")  # submit; the next image comes up
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()
    expect(page.get_by_role("button", name="Previous (P)")).to_be_enabled()
    page.keyboard.press("p")  # back to the submitted image: shown, no longer editable
    expect(page.get_by_role("heading", name="Image 1")).to_be_visible()
    expect(page.get_by_text("submitted", exact=True)).to_be_visible()
    expect(page.get_by_test_id("label-submit")).to_have_count(0)
    page.keyboard.press("n")
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()
    x, y = _canvas(page)
    canvas = page.get_by_test_id("label-canvas").bounding_box()
    assert canvas is not None
    page.keyboard.press("2")  # the next box is a spot
    _drag(page, [(x + 250, y + 250), (x + 350, y + 380)])
    summary = page.get_by_test_id("label-summary")
    expect(summary).to_have_text("1 box")
    page.keyboard.press("Control+z")
    expect(summary).to_have_text("0 boxes")
    page.keyboard.press("Control+Shift+z")
    expect(summary).to_have_text("1 box")
    page.keyboard.press("v")  # select, drag the box a little, delete it, undo the delete
    _drag(page, [(x + 300, y + 300), (x + 320, y + 310)])
    page.keyboard.press("Delete")
    expect(summary).to_have_text("0 boxes")
    page.keyboard.press("Control+z")
    expect(summary).to_have_text("1 box")
    page.keyboard.press("Enter")
    expect(page.get_by_text("No image left for you")).to_be_visible()

    # The reviewer sends the first image back with a comment and accepts the second.
    _as(page, site, "rita", f"/labeling/{job_id}/review")
    expect(page.get_by_role("heading", name="Image 1")).to_be_visible()
    _canvas(page)
    _check(page, site, "labeling-review")
    page.get_by_test_id("review-comment").locator("textarea").fill("The crack runs further left.")
    page.get_by_test_id("review-send-back").click()
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()
    page.get_by_test_id("review-accept").click()
    expect(page.get_by_text("Nothing to review")).to_be_visible()

    # The labeler sees the comment on the image that came back.
    _as(page, site, "dana", f"/labeling/{job_id}/label")
    expect(page.get_by_test_id("review-comment-shown")).to_contain_text("The crack runs further left.")
    expect(page.get_by_test_id("label-summary")).to_have_text("1 box")

    # A polygon by clicks (closed on its first point), a brush stroke, a classification by keys.
    polygon_job = _job(site, "cookie-outline", "polygon", ["crack"])
    _as(page, site, "dana", f"/labeling/{polygon_job}/label")
    x, y = _canvas(page)
    for dx, dy in ((300, 150), (450, 170), (430, 320), (310, 300), (301, 151)):
        page.mouse.click(x + dx, y + dy)
    expect(page.get_by_test_id("label-summary")).to_have_text("1 polygon")
    _check(page, site, "labeling-tool-polygon")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()

    mask_job = _job(site, "cookie-paint", "mask", ["crack", "spot"])
    _as(page, site, "dana", f"/labeling/{mask_job}/label")
    x, y = _canvas(page)
    _drag(page, [(x + 300, y + 200), (x + 360, y + 260), (x + 440, y + 280)])
    expect(page.get_by_test_id("label-summary")).to_have_text("Mask painted")
    _check(page, site, "labeling-tool-mask")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()

    class_job = _job(site, "cookie-verdict", "classification", ["normal", "anomaly"])
    _as(page, site, "dana", f"/labeling/{class_job}/label")
    _canvas(page)
    page.keyboard.press("2")
    expect(page.get_by_test_id("label-summary")).to_have_text("Label: anomaly")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Image 2")).to_be_visible()

    # Export: the job page completes the reviewed job; the manifests hold the annotations.
    _as(page, site, "dana", f"/labeling/{job_id}")
    page.get_by_test_id("labeling-complete").click()
    expect(page.get_by_test_id("labeling-output")).to_contain_text("Exported 1 images")
    (boxed,) = site.manifest(job_id)  # the accepted second image; the first was sent back
    (box,) = boxed["cookie-cracks-detection"]["annotations"]
    assert box["class_id"] == 1 and box["width"] > 20 and box["height"] > 20  # "spot", by key 2
    # The drag from x+250 to x+350 then a select-drag of +20 px: where that lands in the image.
    (size,) = boxed["cookie-cracks-detection"]["image_size"]
    scale = min(canvas["width"] / size["width"], canvas["height"] / size["height"])
    offset_x = (canvas["width"] - size["width"] * scale) / 2
    assert box["left"] == pytest.approx((250 + 20 - offset_x) / scale, abs=1.5)
    assert box["width"] == pytest.approx(100 / scale, abs=1.5)
    for job, name in ((polygon_job, "cookie-outline"), (mask_job, "cookie-paint")):
        _complete(site, job)
        (record,) = site.manifest(job)
        mask = site.manifest_dir(job) / record[f"{name}-segmentation-ref"]
        assert (np.asarray(Image.open(mask)) > 0).sum() > 500, f"{name}: the drawn region is not in the mask"
    _complete(site, class_job)
    (verdict,) = site.manifest(class_job)
    assert verdict["cookie-verdict-classification"] == 1  # "anomaly", by key 2
