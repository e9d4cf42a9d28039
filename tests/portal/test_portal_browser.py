"""The portal's first session, in a real browser against a real `dda portal serve`.

Debian's Chromium driven by Python Playwright, against the portal running as a subprocess on
loopback and serving the built web UI (``make web``). Through the UI only: the PortalAdmin signs
in, creates a use case and a user, adds the user to the use case's team as Operator; the Operator
signs in and sees no admin action. Every page passes an axe-core check (no serious or critical
violation) and leaves a screenshot in the test's tmp dir.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import REPO_ROOT
from tests.portal.conftest import PASSWORD
from tests.portal.portal_process import create_admin, portal_env, running_portal

CHROMIUM = Path("/usr/bin/chromium")
WEB_DIST = REPO_ROOT / "web" / "dist"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
UI_TIMEOUT_MS = 30_000
PAGES = ["dashboard", "usecases", "team", "devices", "deployments", "audit"]

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


def _serious(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def _check_page(page: Page, base_url: str, name: str, shots: Path, who: str) -> None:
    page.goto(f"{base_url}/#/{name}")
    expect(page.locator("main, [role=main]").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / f"{who}-{name}.png"), full_page=True)
    _assert_accessible(page, f"{who} {name}")


def _assert_accessible(page: Page, where: str) -> None:
    problems = _serious(page)
    assert not problems, f"{where}: " + "; ".join(
        f"{v['id']}: {v['help']} ({[n['html'][:160] for n in v['nodes']][:3]})" for v in problems
    )


def _login(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_role("button", name=f"Signed in as {username}")).to_be_visible()


def _choose(page: Page, select_test_id: str, option: str) -> None:
    page.get_by_test_id(select_test_id).locator("button").first.click()
    page.get_by_role("option", name=option).first.click()


def _sign_out(page: Page, username: str) -> None:
    page.get_by_role("button", name=f"Signed in as {username}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page.get_by_test_id("login-submit")).to_be_visible()


def test_admin_builds_a_team_and_the_operator_sees_no_admin_actions(tmp_path: Path) -> None:
    env = portal_env(tmp_path / "portal")
    create_admin(env, PASSWORD)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_portal(env, tmp_path / "portal.log") as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            page.goto(f"{base_url}/")
            page.screenshot(path=str(shots / "login.png"))
            _assert_accessible(page, "login")
            _login(page, base_url, "root")

            # The admin creates a use case ...
            page.goto(f"{base_url}/#/usecases")
            page.get_by_test_id("usecase-create").click()
            page.get_by_test_id("usecase-name").locator("input").fill("Cookie line")
            page.get_by_test_id("usecase-save").click()
            expect(page.get_by_role("cell", name="Cookie line", exact=True)).to_be_visible()
            expect(page.get_by_text("ready").first).to_be_visible()

            # ... and a user, then puts the user in the use case's team as Operator.
            page.goto(f"{base_url}/#/team")
            page.get_by_test_id("user-create").click()
            page.get_by_test_id("user-username").locator("input").fill("olga")
            page.get_by_test_id("user-password").locator("input").fill(PASSWORD)
            page.get_by_test_id("user-save").click()
            expect(page.get_by_role("cell", name="olga", exact=True)).to_be_visible()
            page.get_by_test_id("member-add").click()
            _choose(page, "member-user", "olga")
            _choose(page, "member-role", "Operator")
            page.get_by_test_id("member-save").click()
            expect(page.get_by_role("cell", name="Operator", exact=True)).to_be_visible()

            for name in PAGES:
                _check_page(page, base_url, name, shots, "admin")
            _sign_out(page, "root")

            # The Operator: deployments yes, no admin actions anywhere.
            _login(page, base_url, "olga")
            nav = page.get_by_role("navigation")
            expect(nav.get_by_role("link", name="Deployments")).to_be_visible()
            for hidden in ("Users and roles", "Audit log"):
                expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
            for name in ("dashboard", "usecases", "devices", "deployments"):
                _check_page(page, base_url, name, shots, "operator")
            page.goto(f"{base_url}/#/usecases")
            expect(page.get_by_role("cell", name="Cookie line", exact=True)).to_be_visible()
            expect(page.get_by_test_id("usecase-create")).to_have_count(0)
            expect(page.get_by_role("button", name="Settings")).to_be_disabled()
            page.goto(f"{base_url}/#/team")  # not in the menu; typed by hand it shows the dashboard
            expect(page.get_by_test_id("user-create")).to_have_count(0)
            expect(page.get_by_test_id("member-add")).to_have_count(0)
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _api_setup(base_url: str) -> None:
    """Through the REST API (the UI flow for this is the test above): a use case, an Operator."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        usecase = http.post("/api/v1/usecases", json={"name": "Cookie line"})
        assert usecase.status_code == 201, usecase.text
        assert http.post("/api/v1/users", json={"username": "olga", "password": PASSWORD}).status_code == 201
        member = http.post(
            f"/api/v1/usecases/{usecase.json()['id']}/members", json={"username": "olga", "role": "Operator"}
        )
        assert member.status_code == 201, member.text


def _station(base_url: str, command: str) -> None:
    """A station enrolling with the command the UI showed, then sending heartbeats (the real wire
    protocol of dda.fleet_protocol, signed with the station's own key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from dda.fleet_protocol import DeviceFacts, EnrollRequest, Heartbeat, sign_request

    words = command.split()
    assert words[:3] == ["dda", "station", "enroll"], command
    token = words[-1]
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    proof = base64.b64encode(key.sign(b"enroll\n" + token.encode())).decode()
    body = EnrollRequest(
        token=token,
        public_key_pem=pem.decode(),
        facts=DeviceFacts(hostname="line-1", cpu_count=4),
        proof=proof,
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        enrolled = http.post(
            "/api/v1/agent/enroll",
            content=body.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        assert enrolled.status_code == 200, enrolled.text
        device_id = enrolled.json()["device_id"]
        for cpu, memory, rate in ((20.0, 40.0, 30.0), (55.0, 42.0, 60.0), (35.0, 41.0, 45.0)):
            beat = (
                Heartbeat(cpu_pct=cpu, memory_pct=memory, throughput_per_min=rate).model_dump_json().encode()
            )
            headers = sign_request(key, device_id, "POST", "/api/v1/agent/heartbeat", beat)
            sent = http.post(
                "/api/v1/agent/heartbeat",
                content=beat,
                headers=headers | {"content-type": "application/json"},
            )
            assert sent.status_code == 200, sent.text


def test_operator_enrolls_a_station_and_deploys_to_its_group(tmp_path: Path) -> None:
    pytest.importorskip("dda.fleet_protocol", reason="the fleet API (devices, deployments) is not merged yet")
    env = portal_env(tmp_path / "portal")
    create_admin(env, PASSWORD)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_portal(env, tmp_path / "portal.log") as base_url, sync_playwright() as playwright:
        _api_setup(base_url)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            _login(page, base_url, "olga")
            page.goto(f"{base_url}/#/devices")
            page.get_by_test_id("enroll").click()
            page.get_by_role("textbox", name="Group", exact=True).fill("line")
            page.get_by_test_id("enroll-save").click()
            command = page.get_by_test_id("enroll-command").inner_text()
            page.screenshot(path=str(shots / "operator-enroll.png"))
            _assert_accessible(page, "enrollment")
            page.get_by_role("button", name="Done").click()
            _station(base_url, command)

            page.goto(f"{base_url}/#/devices")
            page.get_by_role("link", name="line-1").click()
            expect(page.get_by_role("heading", name="line-1")).to_be_visible()
            expect(page.get_by_text("online").first).to_be_visible()
            page.get_by_role("button", name="Request logs").click()
            expect(page.get_by_text("Waiting for the station")).to_be_visible()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / "operator-device.png"), full_page=True)
            _assert_accessible(page, "device detail")

            page.goto(f"{base_url}/#/deployments")
            page.get_by_test_id("deployment-create").click()
            page.get_by_label("Deployment name").fill("first rollout")
            _choose(page, "deployment-target", "line")
            page.get_by_role("dialog").locator("textarea").fill('{"version": "first-rollout"}')
            page.get_by_test_id("deployment-save").click()
            expect(page.get_by_role("heading", name="first rollout")).to_be_visible()
            expect(page.get_by_role("link", name="line-1")).to_be_visible()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / "operator-deployment.png"), full_page=True)
            _assert_accessible(page, "deployment detail")
            page.get_by_role("button", name="Cancel deployment").click()
            expect(page.get_by_text("cancelled").first).to_be_visible()
        except Exception:
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
