"""Screenshots of a running `make run` for the README (docs/images/*.png), taken with Playwright and
the system's Chromium. Run while `dda demo` runs:

    python scripts/demo_screenshots.py [DATA_DIR] [PORTAL_URL] [STATION_URL]

DATA_DIR is the demo's data folder (it holds demo-system/login.txt); default: the settings' one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"


def logins(data_dir: Path) -> dict[str, str]:
    text = (data_dir / "demo-system" / "login.txt").read_text()
    return {line.split()[0]: line.split(":", 1)[1] for line in text.splitlines()}


def portal_shots(page: Page, url: str, password: str) -> None:
    page.goto(url + "/")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("button", name="Signed in as admin")).to_be_visible(timeout=30_000)
    for route, name in (("dashboard", "portal-dashboard"), ("devices", "portal-devices"),
                        ("deployments", "portal-deployments")):  # fmt: skip
        page.goto(f"{url}/#/{route}")
        page.wait_for_timeout(2500)  # live tables and charts fill in
        page.screenshot(path=OUT / f"{name}.png")


def station_shots(page: Page, url: str, password: str) -> None:
    page.goto(url + "/")
    page.fill("#login-username", "admin")
    page.fill("#login-password", password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("heading", name="Live result")).to_be_visible(timeout=30_000)
    page.wait_for_timeout(4000)  # a few verdicts from the synthetic camera
    page.screenshot(path=OUT / "station-live.png")


def main() -> None:
    from dda.core.settings import get_settings

    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else get_settings().data_dir
    portal = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8000"
    station = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:5000"
    passwords = logins(data_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        portal_shots(page, portal, passwords["portal"])
        station_shots(page, station, passwords["station"])
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
