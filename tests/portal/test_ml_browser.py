"""The ML pages in a real browser against a real `dda portal serve` (embedded job executor).

Debian's Chromium driven by Python Playwright. Setup through the REST API (the data pages have
their own browser test): a use case, a DataScientist and a Viewer, synthetic cookie images
uploaded and a dataset version built. Then, through the UI only, the DataScientist starts a
training from the Training page's dropdowns, watches the loss curve gain points while the job
runs, opens the trained model version, compiles it (x86_64-cpu, FP32), reads the parity report,
packages and signs, and publishes a component. The Viewer sees the same pages without one
mutating button, and the API refuses the Viewer a job (403). Every page passes an axe-core check
(no serious or critical violation) and leaves a screenshot in the test's tmp dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from dda.formats.synthetic import generate_synthetic_dataset
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import create_admin, portal_env, running_portal
from tests.portal.test_portal_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    WEB_DIST,
    _assert_accessible,
    _choose,
)

JOB_TIMEOUT_MS = 480_000  # a job and its child process on a 2-core machine shared by many
# The embedded executor polls and heartbeats fast so a short job is not waiting on the clock.
FAST_JOBS = {
    "DDA_PORTAL__JOB_POLL_S": "0.2",
    "DDA_PORTAL__JOB_HEARTBEAT_S": "0.5",
    "DDA_PORTAL__JOB_WORKERS": "2",
}

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


@contextmanager
def _client(base_url: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        token = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert token.status_code == 200, token.text
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http


def _setup(base_url: str, work: Path) -> str:
    """A use case with DataScientist dana and Viewer vera; 16 synthetic images and a dataset
    version of them, uploaded by dana. Returns the use case id."""
    with _client(base_url, "root") as admin:
        usecase = admin.post("/api/v1/usecases", json={"name": "Cookie line"})
        assert usecase.status_code == 201, usecase.text
        usecase_id: str = usecase.json()["id"]
        for user, role in (("dana", "DataScientist"), ("vera", "Viewer")):
            made = admin.post("/api/v1/users", json={"username": user, "password": PASSWORD})
            assert made.status_code == 201, made.text
            member = admin.post(
                f"/api/v1/usecases/{usecase_id}/members", json={"username": user, "role": role}
            )
            assert member.status_code == 201, member.text
    manifest = generate_synthetic_dataset(work / "synth", count=16, size=(64, 64), seed=5, progress=False)
    base = f"/api/v1/usecases/{usecase_id}"
    with _client(base_url, "dana") as dana:
        for sub in ("images", "masks"):
            files = [
                ("files", (p.name, p.read_bytes(), "application/octet-stream"))
                for p in sorted((manifest.parent / sub).iterdir())
            ]
            uploaded = dana.post(f"{base}/data/images", params={"folder": f"synth/{sub}"}, files=files)
            assert uploaded.status_code == 201, uploaded.text
        dataset = dana.post(f"{base}/datasets", json={"name": "synth"})
        assert dataset.status_code == 201, dataset.text
        version = dana.post(
            f"{base}/datasets/{dataset.json()['id']}/versions",
            data={"format": "gt", "images_folder": "synth", "seed": "1"},
            files={"labels": ("labels", manifest.read_bytes(), "application/octet-stream")},
        )
        assert version.status_code == 201, version.text
    return usecase_id


@pytest.fixture(scope="module")
def ml_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """One `dda portal serve` for the module: (base URL, use case id, screenshot folder)."""
    root = tmp_path_factory.mktemp("ml-portal")
    env = portal_env(root / "portal", **FAST_JOBS)
    create_admin(env, PASSWORD)
    shots = root / "screenshots"
    shots.mkdir()
    with running_portal(env, root / "portal.log", timeout_s=240) as base_url:
        yield base_url, _setup(base_url, root), shots


def _login(page: Page, base_url: str, username: str) -> None:
    """Sign in through the form (a loaded machine may take a while to answer)."""
    page.goto(f"{base_url}/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("button", name=f"Signed in as {username}")).to_be_visible(timeout=60_000)


def _sign_out(page: Page, username: str) -> None:
    page.get_by_role("button", name=f"Signed in as {username}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible(timeout=60_000)


def _shot(page: Page, shots: Path, name: str) -> None:
    """Screenshot the page as it is, then check it with axe."""
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    _assert_accessible(page, name)


def _wait_status(page: Page, status: str) -> None:
    expect(page.get_by_test_id("job-status")).to_have_text(status, timeout=JOB_TIMEOUT_MS)


def _points(page: Page) -> int:
    value = page.get_by_test_id("loss-chart").get_attribute("data-points")
    return int(value or 0)


def _train(page: Page, base_url: str, shots: Path) -> dict[str, Any]:
    """Start a training from the dropdowns; watch the curve grow; returns what was seen live."""
    page.goto(f"{base_url}/#/training")
    _shot(page, shots, "scientist-training")
    page.get_by_test_id("training-create").click()
    _choose(page, "training-dataset", "synth v1")
    _choose(page, "training-epochs", "3 epochs")
    _choose(page, "training-size", "64 × 64 px")
    _choose(page, "training-batch", "8 images")
    page.get_by_test_id("training-name").locator("input").fill("cookie")
    page.get_by_test_id("training-pretrained").locator("input").uncheck()
    _shot(page, shots, "scientist-training-form")
    page.get_by_test_id("training-save").click()
    # The job page: the curve gets its first points while the job is still running.
    page.wait_for_url("**/#/training/*")
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=loss-chart]')?.dataset.points || 0) > 0",
        timeout=JOB_TIMEOUT_MS,
        polling="raf",
    )
    live = {"points": _points(page), "status": page.get_by_test_id("job-status").inner_text()}
    _wait_status(page, "succeeded")
    expect(page.get_by_test_id("loss-chart").locator("[data-testid=curve-point]")).to_have_count(6)
    _shot(page, shots, "scientist-training-job")
    # Reloaded, the page draws the stored curve again.
    page.reload()
    expect(page.get_by_test_id("loss-chart").locator("[data-testid=curve-point]")).to_have_count(6)
    return live


def _compile_and_package(page: Page, shots: Path) -> None:
    page.get_by_test_id("job-model-link").click()
    expect(page.get_by_test_id("confusion-matrix")).to_be_visible()
    expect(page.get_by_test_id("plot-training_curves")).to_be_visible()
    _shot(page, shots, "scientist-model-version")
    page.get_by_test_id("version-compile").click()
    expect(page.get_by_test_id("compile-version")).to_contain_text("cookie v1")
    expect(page.get_by_test_id("compile-calibration")).to_contain_text("synth v1")
    _shot(page, shots, "scientist-compilation")
    page.get_by_test_id("compile-start").click()
    page.wait_for_url("**/#/compilation/*")
    _wait_status(page, "succeeded")
    report = page.get_by_test_id("parity-report")
    expect(report).to_contain_text("x86_64-cpu")
    expect(report).to_contain_text("passed")
    _shot(page, shots, "scientist-compilation-job")
    page.get_by_test_id("package-start").click()
    expect(page.get_by_test_id("packages")).to_be_visible()
    _wait_status(page, "succeeded")
    packages = page.get_by_test_id("packages")
    expect(packages).to_contain_text("model-cookie-x86_64-cpu")
    expect(packages).to_contain_text("1.0.0")
    _shot(page, shots, "scientist-packaging-job")
    page.get_by_test_id("publish-start").click()
    expect(page.get_by_test_id("published")).to_be_visible()
    _wait_status(page, "succeeded")
    page.get_by_test_id("published").get_by_role("link", name="model-cookie-x86_64-cpu").click()
    expect(page.get_by_text("Package SHA-256")).to_be_visible()
    _shot(page, shots, "scientist-component")


# Four jobs, each in a child process: minutes when the machine is shared, hence the long limit.
@pytest.mark.timeout(1800)
def test_scientist_trains_compiles_and_publishes_and_a_viewer_only_looks(ml_portal) -> None:  # type: ignore[no-untyped-def]
    base_url, usecase_id, shots = ml_portal
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            _login(page, base_url, "dana")
            live = _train(page, base_url, shots)
            # Seen before the end: fewer than the final 6 points (3 epochs x 2 losses).
            assert 0 < live["points"] < 6, live
            job_url = page.url
            _compile_and_package(page, shots)
            page.goto(f"{base_url}/#/components")
            expect(page.get_by_test_id("components")).to_contain_text("model-cookie-x86_64-cpu")
            _shot(page, shots, "scientist-components")
            page.goto(f"{base_url}/#/models")
            expect(page.get_by_role("link", name="cookie", exact=True)).to_be_visible()
            _shot(page, shots, "scientist-models")
            page.get_by_role("link", name="cookie", exact=True).click()
            expect(page.get_by_role("link", name="v1", exact=True)).to_be_visible()
            _shot(page, shots, "scientist-model")
            _sign_out(page, "dana")

            # The Viewer: every page readable, no button that changes anything.
            _login(page, base_url, "vera")
            nav = page.get_by_role("navigation")
            for title in ("Training", "Models", "Compilation and packaging", "Components"):
                expect(nav.get_by_role("link", name=title)).to_be_visible()
            page.goto(f"{base_url}/#/training")
            expect(page.get_by_test_id("training-jobs")).to_contain_text("train cookie")
            expect(page.get_by_test_id("training-create")).to_have_count(0)
            _shot(page, shots, "viewer-training")
            page.goto(job_url)
            expect(page.get_by_test_id("loss-chart").locator("[data-testid=curve-point]")).to_have_count(6)
            expect(page.get_by_test_id("job-retry")).to_have_count(0)
            page.get_by_test_id("job-model-link").click()
            expect(page.get_by_test_id("confusion-matrix")).to_be_visible()
            for hidden in ("version-compile", "version-evaluate", "stage-save"):
                expect(page.get_by_test_id(hidden)).to_have_count(0)
            _shot(page, shots, "viewer-model-version")
            page.goto(f"{base_url}/#/compilation")
            expect(page.get_by_test_id("compilation-jobs")).to_contain_text("compile cookie v1")
            expect(page.get_by_test_id("compile-start")).to_have_count(0)
            _shot(page, shots, "viewer-compilation")
            page.get_by_test_id("compilation-jobs").get_by_role("link").first.click()
            expect(page.get_by_test_id("job-status")).to_have_text("succeeded")
            for hidden in ("package-start", "publish-start", "job-cancel", "job-retry"):
                expect(page.get_by_test_id(hidden)).to_have_count(0)
            page.goto(f"{base_url}/#/components")
            expect(page.get_by_test_id("components")).to_contain_text("model-cookie-x86_64-cpu")
            expect(page.get_by_test_id("component-create")).to_have_count(0)
            _shot(page, shots, "viewer-components")
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    # The server enforces what the UI hides.
    with _client(base_url, "vera") as vera:
        refused = vera.post(
            f"/api/v1/usecases/{usecase_id}/jobs", json={"type": "training", "parameters": {}}
        )
        assert refused.status_code == 403, refused.text
