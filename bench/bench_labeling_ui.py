"""The labeling tool's frame time on a 5-megapixel photo, in headless Debian Chromium.

    .venv/bin/python bench/bench_labeling_ui.py [--width 2592] [--height 1944] [--moves 150]

Starts the portal (the real app under uvicorn on loopback, serving web/dist: run `make web`
first), uploads one 2592x1944 JPEG (5 MP), creates a segmentation-mask labeling job and opens the
tool in Chromium (Playwright, /usr/bin/chromium, software rendering as in CI). Then it drives
real mouse input: a brush stroke of --moves pointer moves, a pan (middle drag) of as many moves,
and 20 wheel zooms. For each it prints, over the frames drawn meanwhile:
  - frame interval: time between requestAnimationFrame callbacks (what the user sees; 16.7 ms
    is 60 fps),
  - render cost: JavaScript time of the tool's own render() per frame (editor.frameTimes);
    Chromium rasterises the recorded drawing later, so the frame interval is the real figure.
No assertions: the figures depend on the machine and what else it is doing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

PASSWORD = "Bench-Password-9!"
CHROMIUM = "/usr/bin/chromium"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--width", type=int, default=2592)
    parser.add_argument("--height", type=int, default=1944)
    parser.add_argument("--moves", type=int, default=150, help="pointer moves per gesture")
    return parser.parse_args()


def photo(width: int, height: int) -> bytes:
    """A photo-like JPEG: smooth gradients plus noise (compresses like a real photo)."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) * 127 // (width + height))], axis=-1)
    pixels = np.clip(base + rng.integers(-20, 20, (height, width, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def start_portal(data_dir: Path) -> tuple[str, Any]:
    import uvicorn
    from tests.procs import free_port

    from dda.core.settings import Settings
    from dda.portal.app import create_app

    settings = Settings(data_dir=data_dir, env="test", portal={"max_upload_mb": 500})  # type: ignore[arg-type]
    app = create_app(settings, configure_logs=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the portal did not start")
        time.sleep(0.1)
    return f"http://127.0.0.1:{port}", app.state.portal


def prepare(url: str, portal: Any, image: bytes) -> tuple[dict[str, Any], str, str]:
    from dda.portal.services import auth as auth_service

    with portal.session() as session:
        auth_service.create_user(session, "bench", PASSWORD, is_portal_admin=True)
    token = httpx.post(f"{url}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        usecase_id = http.post("/api/v1/usecases", json={"name": "bench"}).json()["id"]
        base = f"/api/v1/usecases/{usecase_id}"
        files = [("files", ("photo-5mp.jpg", image, "image/jpeg"))]
        uploaded = http.post(f"{base}/data/images", params={"folder": "bench"}, files=files)
        assert uploaded.status_code == 201, uploaded.text
        body = {
            "name": "bench-mask",
            "task_type": "mask",
            "labels": ["crack", "spot"],
            "source": {"data_folder": "bench"},
            "labelers": ["bench"],
        }
        job = http.post(f"{base}/labeling", json=body)
        assert job.status_code == 201, job.text
    return token, usecase_id, job.json()["id"]


RECORD = """() => {
  const host = document.querySelector('.dda-label-host');
  host.labelEditor.frameTimes.length = 0;
  window.__frames = [];
  window.__recording = true;
  let last = performance.now();
  const tick = (t) => {
    window.__frames.push(t - last);
    last = t;
    if (window.__recording) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
STOP = """() => {
  window.__recording = false;
  const host = document.querySelector('.dda-label-host');
  return { intervals: window.__frames.slice(1), renders: host.labelEditor.frameTimes.slice() };
}"""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, figures: dict[str, list[float]], seconds: float) -> None:
    intervals, renders = figures["intervals"], figures["renders"]
    print(
        f"{name:<12} frames {len(intervals):4d} in {seconds:5.2f} s | frame interval p50 "
        f"{percentile(intervals, 0.5):6.1f} ms p95 {percentile(intervals, 0.95):6.1f} ms | render cost p50 "
        f"{percentile(renders, 0.5):5.1f} ms p95 {percentile(renders, 0.95):5.1f} ms (mean "
        f"{statistics.fmean(renders) if renders else float('nan'):.1f})"
    )


def gesture(page: Any, name: str, run: Any) -> None:
    page.evaluate(RECORD)
    started = time.perf_counter()
    run()
    page.wait_for_timeout(100)
    report(name, page.evaluate(STOP), time.perf_counter() - started)


def main() -> None:
    from playwright.sync_api import sync_playwright

    args = parse_args()
    image = photo(args.width, args.height)
    megapixels = args.width * args.height / 1e6
    print(f"photo: {args.width}x{args.height} ({megapixels:.1f} MP), JPEG {len(image) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory(prefix="dda-bench-label-") as tmp:
        url, portal = start_portal(Path(tmp))
        token, usecase_id, job_id = prepare(url, portal, image)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(f"{url}/")
            page.evaluate(
                """([a, r, u]) => {
                    localStorage.setItem('dda.portal.access', a);
                    localStorage.setItem('dda.portal.refresh', r);
                    localStorage.setItem('dda.portal.usecase', u);
                }""",
                [token["access_token"], token["refresh_token"], usecase_id],
            )
            opened = time.perf_counter()
            page.goto(f"{url}/#/labeling/{job_id}/label")
            page.reload()
            canvas = page.get_by_test_id("label-canvas")
            canvas.wait_for()
            ready = time.perf_counter() - opened
            print(f"tool ready (page load, claim, fetch + decode the photo): {ready:.2f} s")
            box = canvas.bounding_box()
            assert box is not None
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            n = args.moves

            def stroke() -> None:
                page.mouse.move(cx - 300, cy)
                page.mouse.down()
                for i in range(n):
                    t = i / n
                    page.mouse.move(cx - 300 + 600 * t, cy + 150 * np.sin(t * 6.28))
                page.mouse.up()

            def pan() -> None:
                page.mouse.move(cx, cy)
                page.mouse.down(button="middle")
                for i in range(n):
                    t = i / n
                    page.mouse.move(cx + 200 * np.cos(t * 6.28) - 200, cy + 200 * np.sin(t * 6.28))
                page.mouse.up(button="middle")

            def zoom() -> None:
                page.mouse.move(cx, cy)
                for i in range(20):
                    page.mouse.wheel(0, -120 if i < 10 else 120)

            gesture(page, "brush stroke", stroke)
            gesture(page, "pan", pan)
            gesture(page, "wheel zoom", zoom)
            page.evaluate("() => document.querySelector('.dda-label-host').labelEditor.zoom(4)")
            gesture(page, "stroke at 4x", stroke)
            page.screenshot(path=str(Path(tmp) / "bench.png"))
            browser.close()


if __name__ == "__main__":
    main()
