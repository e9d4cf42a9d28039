"""End-to-end station latency and throughput for one 576x768 image, next to bare ONNX Runtime.

    .venv/bin/python bench/bench_station.py --package PKG.tar.gz|PKG_DIR [--image X.jpg] [-n 300]

Per capture, the station path is: source (an upload source receives the JPEG bytes) -> safe decode
-> camera settings -> model (ONNX Runtime, through the station's registry lease) -> durable store
(one journal record with rows and files, fdatasync'd; then the files and the SQLite rows written
without waiting for the disk, synced later by the checkpoint) -> output (a digital-output pulse on a
simulated line, delivered on its own worker). The bare path is: safe decode -> ONNX Runtime run of
the same model file. Prints p50/p99 of both, their ratio, sustained captures/s and peak RSS, with
the issue's targets (p50 <= 1.3x bare, p99 <= 2x bare p99, >= 50 captures/s,
RSS <= 500 MB). The overlay is not part of a capture any more (drawn when first viewed).

Without --package it uses the package `dda demo` made last (<data_dir>/demo/package.tar.gz).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

TARGET_RATIO = 1.3
TARGET_P99_RATIO = 2.0  # station p99 / bare p99
TARGET_RATE = 50.0
TARGET_RSS_MB = 500.0


def _percentiles(values_ms: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(values_ms), [50, 99])
    return float(p50), float(p99)


def _image_bytes(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    from dda.core.safe_image import encode_jpeg
    from dda.formats.synthetic import render_sample

    image, _ = render_sample(np.random.default_rng(0), "cookie", True, (576, 768))
    return encode_jpeg(image, quality=95)


def _install(package: Path, model_repo: Path) -> tuple[str, str, Path]:
    """Put the package into the bench station's model repo (a verified install when it is an archive)."""
    from dda.packaging.manifest import read_manifest

    if package.is_dir():
        manifest = read_manifest(package)
        target = model_repo / manifest.name / manifest.version
        shutil.copytree(package, target)
    else:
        from dda.core.safe_archive import extract_archive

        staged = model_repo / ".staged"
        extract_archive(package, staged)
        manifest = read_manifest(staged)
        target = model_repo / manifest.name / manifest.version
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)
    return manifest.name, manifest.version, target / manifest.triton.model_file


class BareRunner:
    """Safe decode + ONNX Runtime run of the package's model file: the floor the station adds to."""

    def __init__(self, model_file: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()  # as dda.runtime's ONNX Runtime backend sets it up
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads or 0
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])

    def __call__(self, data: bytes) -> None:
        from dda.core.safe_image import decode_image

        self.session.run(None, {"image": decode_image(data)})


class StationRunner:
    """A real station (own data dir) with a workflow: upload source -> model -> store -> I/O output."""

    def __init__(self, package: Path, workdir: Path) -> None:
        os.environ["DDA_DATA_DIR"] = str(workdir)
        from dda.core.settings import get_settings
        from dda.station.context import build_station
        from dda.station.plugins.outputs.digital_output import DigitalOutputConfig
        from dda.station.plugins.processing import CameraSettings
        from dda.station.plugins.sources.upload import UploadSource, UploadSourceConfig
        from dda.station.plugins.triggers import TriggerEvent
        from dda.station.services.pipeline import WorkflowSpec
        from dda.station.services.runner import WorkflowRunner

        get_settings.cache_clear()
        self.station = build_station(get_settings())
        name, version, self.model_file = _install(package, self.station.paths.model_repo)
        self.station.store.start()
        spec = WorkflowSpec(
            id=None,
            name="bench",
            source_id=None,
            source=UploadSourceConfig(),
            camera=CameraSettings(),
            model_name=name,
            model_version=version,
            outputs=[DigitalOutputConfig(chip="sim:bench", line=0, rule="all", pulse_ms=1)],
        )
        self.runner = WorkflowRunner(spec, self.station.inspector, lambda *_: None)
        self.runner.start()
        assert isinstance(self.runner.source, UploadSource)
        self.source = self.runner.source
        self.event = TriggerEvent("manual")

    def __call__(self, data: bytes) -> None:
        self.source.push(data, "bench.jpg")  # the source receives the bytes and decodes them
        self.runner.capture(self.event)  # returns once the result is durable and handed to the output

    def sustained(self, data: bytes, n: int) -> float:
        """Captures/s as a trigger loop runs them: the next capture is inferred while the previous
        ones are stored; timed until the last one is durable."""
        started = time.perf_counter()
        for _ in range(n - 1):
            self.source.push(data, "bench.jpg")
            self.runner.run_once(self.event, wait=False)
        self(data)  # results are stored in order: when this one is durable, all are
        return n / (time.perf_counter() - started)

    def stages(self) -> dict[str, float]:
        return {k: v["p50"] or 0.0 for k, v in self.station.metrics.percentiles().items()}

    def close(self) -> None:
        self.runner.stop()
        self.station.store.close()
        self.station.registry.close()
        self.station.engine.dispose()


def timed(run: Callable[[bytes], None], data: bytes) -> float:
    start = time.perf_counter()
    run(data)
    return (time.perf_counter() - start) * 1000


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", type=Path, default=None, help="package archive or folder")
    parser.add_argument(
        "--image", type=Path, default=None, help="a 576x768 JPEG (default: a synthetic cookie)"
    )
    parser.add_argument("-n", type=int, default=300, help="captures per measurement")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads for the bare run")
    args = parser.parse_args()

    package = args.package
    if package is None:
        from dda.core.settings import get_settings

        package = get_settings().data_dir / "demo" / "package.tar.gz"
    if not package.exists():
        raise SystemExit(f"no model package at {package}: pass --package, or run `dda demo` once to make one")
    data = _image_bytes(args.image)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dda-bench-station-") as tmp:
        station = StationRunner(package, Path(tmp))
        bare = BareRunner(station.model_file, args.threads)
        for _ in range(5):  # warm-up
            station(data)
            bare(data)
        station_ms: list[float] = []
        bare_ms: list[float] = []
        block = max(1, args.n // 5)
        while len(station_ms) < args.n:  # alternating blocks, so both see the same machine load
            bare_ms += [timed(bare, data) for _ in range(block)]
            station_ms += [timed(station, data) for _ in range(block)]
        rate = station.sustained(data, args.n)
        stages = station.stages()
        station.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s50, s99 = _percentiles(station_ms)
    b50, b99 = _percentiles(bare_ms)
    ratio = s50 / b50
    print(f"image: {len(data) / 1024:.0f} KiB JPEG; package: {package}; n={args.n}")
    print(f"bare ONNX Runtime (decode + run):  p50 {b50:7.2f} ms   p99 {b99:7.2f} ms")
    print(f"station end to end:                p50 {s50:7.2f} ms   p99 {s99:7.2f} ms")
    print("station stages p50 (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(
        f"ratio station/bare p50: {ratio:.2f}x (target <= {TARGET_RATIO}x) {_verdict(ratio <= TARGET_RATIO)}"
    )
    p99_ratio = s99 / b99
    ok99 = _verdict(p99_ratio <= TARGET_P99_RATIO)
    print(f"ratio station/bare p99: {p99_ratio:.2f}x (target <= {TARGET_P99_RATIO}x) {ok99}")
    print(f"sustained: {rate:.1f} captures/s (target >= {TARGET_RATE:.0f}) {_verdict(rate >= TARGET_RATE)}")
    print(f"  bare decode + run back to back: {1000 / statistics.fmean(bare_ms):.1f} /s on the same machine")
    print(f"peak RSS: {rss_mb:.0f} MB (target <= {TARGET_RSS_MB:.0f}) {_verdict(rss_mb <= TARGET_RSS_MB)}")
    print(
        f"load average (1 min): {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on "
        f"{os.cpu_count()} CPUs (other jobs share them: the ratios, measured in alternating blocks, "
        "hold better than the absolute times)"
    )
    print(f"mean station capture: {statistics.fmean(station_ms):.2f} ms")


if __name__ == "__main__":
    main()
