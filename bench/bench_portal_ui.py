"""Portal web UI: page load to interactive on loopback, and the JS/CSS bundle sizes (gzip).

    .venv/bin/python bench/bench_portal_ui.py [--loads 20] [--images 150]

Starts a real `dda portal serve` (SQLite, local store, a temp data dir) serving the built web UI
(`make web` first), seeds it through the REST API (a use case, --images synthetic 640x480 JPEG
photos in two folders, a dataset version made from them), then drives Debian's Chromium headless
(Playwright) through the heaviest pages. A load is timed from navigation start to the page's
"interactive" mark: its own content drawn (the first thumbnail image decoded on Data management,
the chart on a dataset version, table rows elsewhere). Each page is loaded --loads times cold (a
fresh browser context: empty cache, as a first visit) and warm (the same context: cached assets),
printing p50 and p95 against the 1 s target, and the median main-thread task time of a cold
load (Chromium's TaskDuration: how long the page's own work kept its main thread busy; it is
wall time too, so a busy machine inflates it, but it leaves out waiting for the server).
No assertions: the figures depend on the machine and what else runs on it.

Bundle: every file the portal and station entry HTML pull in (entry chunk, preloaded chunks, CSS),
raw and gzip-compressed (level 9), as a browser would fetch them over a compressing proxy.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Bench-Password-9!"
TARGET_S = 1.0
READY_TIMEOUT_MS = 60_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=20, help="loads per page and cache state")
    parser.add_argument("--images", type=int, default=150, help="photos seeded into the use case")
    return parser.parse_args()


# --------------------------------------------------------------------------- bundle


def bundle_sizes(entry_html: Path) -> list[tuple[str, int, int]]:
    """(file, raw bytes, gzip bytes) of every asset ``entry_html`` loads up front."""
    html = entry_html.read_text()
    names = re.findall(r'(?:src|href)="/(assets/[^"]+\.(?:js|css))"', html)
    rows = []
    for name in names:
        data = (DIST / name).read_bytes()
        rows.append((name, len(data), len(gzip.compress(data, compresslevel=9))))
    return rows


def print_bundles() -> None:
    print("bundle (loaded by the entry HTML; gzip -9)")
    for entry in ("portal.html", "index.html"):
        rows = bundle_sizes(DIST / entry)
        for name, raw, packed in rows:
            print(f"  {entry:12} {name:44} {raw / 1024:8.1f} KiB  gzip {packed / 1024:7.1f} KiB")
        total_raw = sum(r[1] for r in rows)
        total_gz = sum(r[2] for r in rows)
        js_gz = sum(r[2] for r in rows if r[0].endswith(".js"))
        print(
            f"  {entry:12} {'TOTAL':44} {total_raw / 1024:8.1f} KiB  gzip {total_gz / 1024:7.1f} KiB"
            f"  (JS gzip {js_gz / 1024:.1f} KiB)"
        )


# --------------------------------------------------------------------------- portal


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dda(*args: str) -> list[str]:
    return [sys.executable, "-c", "from dda.cli.main import main; main()", *args]


@contextmanager
def running_portal(data_dir: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDA_")}
    env.update({"DDA_DATA_DIR": str(data_dir), "DDA_ENV": "test", "DDA_LOG_JSON": "true"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    made = subprocess.run(
        _dda("portal", "create-admin", "root"),
        env={**env, "DDA_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        timeout=300,
    )
    if made.returncode != 0:
        raise SystemExit(f"create-admin failed: {made.stderr.decode()[-2000:]}")
    port = _free_port()
    log = (data_dir / "portal.log").open("wb")
    process = subprocess.Popen(
        _dda("portal", "serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"dda portal serve exited {process.returncode}; see {data_dir / 'portal.log'}"
                )
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("dda portal serve did not answer within 300 s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((640, 480), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def seed(base_url: str, images: int) -> dict[str, str]:
    """A use case with photos at the top folder and in two class folders, and one dataset version."""
    with httpx.Client(base_url=base_url, timeout=120) as http:
        tokens = http.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        usecase = http.post("/api/v1/usecases", json={"name": "Bench line"}).json()
        base = f"/api/v1/usecases/{usecase['id']}"
        third = max(images // 3, 2)
        for folder, start, count in (
            ("", 0, images - 2 * third),
            ("classes/ok", 10_000, third),
            ("classes/bad", 20_000, third),
        ):
            for batch in range(0, count, 25):
                files = [
                    ("files", (f"img-{start + i}.jpg", _jpeg(start + i), "image/jpeg"))
                    for i in range(batch, min(batch + 25, count))
                ]
                landed = http.post(f"{base}/data/images", params={"folder": folder}, files=files)
                landed.raise_for_status()
        dataset = http.post(f"{base}/datasets", json={"name": "bench"}).json()
        body = {
            "classes": [
                {"class_name": "ok", "folder": "classes/ok"},
                {"class_name": "bad", "folder": "classes/bad"},
            ]
        }
        version = http.post(f"{base}/datasets/{dataset['id']}/versions/from-folders", json=body)
        version.raise_for_status()
        return {
            "usecase": usecase["id"],
            "dataset": dataset["id"],
            "version": version.json()["id"],
            "access": tokens["access_token"],
            "refresh": tokens["refresh_token"],
        }


# --------------------------------------------------------------------------- browser


def pages(ids: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, hash route, CSS selector that marks the page interactive)."""
    return [
        ("dashboard", "/dashboard", "main h1, main h2"),
        ("data management", "/data", "[data-testid=thumb-img]"),
        ("datasets", "/datasets", "[data-testid=version-link]"),
        (
            "dataset version",
            f"/datasets/{ids['dataset']}/versions/{ids['version']}",
            "[data-testid=version-images] >> text=/\\d+/",
        ),
        ("settings", "/settings", "[data-testid=key-download]"),
        ("audit log", "/audit", "table tbody tr"),
    ]


def _timed_load(page: Page, url: str, ready: str, *, blank_first: bool = True) -> float:
    if blank_first:
        page.goto("about:blank")
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector(ready, state="visible", timeout=READY_TIMEOUT_MS)
    return time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(base_url: str, ids: dict[str, str], loads: int) -> None:
    init = (
        f"localStorage.setItem('dda.portal.access', {ids['access']!r});"
        f"localStorage.setItem('dda.portal.refresh', {ids['refresh']!r});"
        f"localStorage.setItem('dda.portal.usecase', {ids['usecase']!r});"
    )
    print(f"\npage load to interactive, {loads} loads each (target p50 < {TARGET_S:.1f} s)")
    print(
        f"  {'page':18} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9} {'cold CPU':>9}"
        "  p50/target"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def fresh() -> BrowserContext:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            context.add_init_script(init)
            return context

        warm_context = fresh()
        warm_page = warm_context.new_page()
        for name, route, ready in pages(ids):
            url = f"{base_url}/#{route}"
            cold: list[float] = []
            cpu: list[float] = []  # the page's main-thread busy time (Chromium's TaskDuration)
            try:
                _timed_load(warm_page, url, ready)  # fills the cache; not counted
                for _ in range(loads):
                    context = fresh()
                    page = context.new_page()
                    cdp = context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    cold.append(_timed_load(page, url, ready, blank_first=False))
                    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                    cpu.append(float(metrics.get("TaskDuration", 0.0)))
                    context.close()
                warm = [_timed_load(warm_page, url, ready) for _ in range(loads)]
            except PlaywrightTimeout:
                print(f"  {name:18} not interactive within {READY_TIMEOUT_MS / 1000:.0f} s ({ready})")
                continue
            p50 = statistics.median(cold)
            print(
                f"  {name:18} {p50:8.3f}s {_pct(cold, 0.95):8.3f}s {statistics.median(warm):8.3f}s "
                f"{_pct(warm, 0.95):8.3f}s  {statistics.median(cpu):8.3f}s  {p50 / TARGET_S:.2f}"
            )
        browser.close()


def main() -> None:
    args = parse_args()
    if not (DIST / "portal.html").is_file():
        raise SystemExit("web/dist/portal.html is missing: run `make web` first")
    print_bundles()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: scripts/system-deps.sh installs it")
    with tempfile.TemporaryDirectory(prefix="dda-bench-ui-") as tmp, running_portal(Path(tmp)) as base_url:
        started = time.perf_counter()
        ids = seed(base_url, args.images)
        print(f"\nseeded {args.images} photos and a dataset version in {time.perf_counter() - started:.1f} s")
        measure(base_url, ids, args.loads)


if __name__ == "__main__":
    main()
