"""Every image source plugin against the one ImageSourcePlugin contract.

Real parts throughout: files on disk, a video file written with OpenCV, the ML-core synthetic
generator, and for GigE Vision a real Aravis stack talking GVCP/GVSP to Debian's
``arv-fake-gv-camera-0.8`` emulator on 127.0.0.1 (skipped where aravis-tools is not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from dda.core.errors import DDAError, InvalidInput
from dda.core.safe_image import encode_png
from dda.station.plugins.processing import CameraSettings, Roi
from dda.station.plugins.sources import SOURCE_PLUGINS, Frame, ImageSourcePlugin, NoFrameYet, build_source
from dda.station.plugins.sources.folder import FolderSourceConfig
from dda.station.plugins.sources.gige import GigESourceConfig
from dda.station.plugins.sources.opencv import OpenCVSourceConfig
from dda.station.plugins.sources.synthetic import SyntheticSourceConfig
from dda.station.plugins.sources.upload import UploadSource, UploadSourceConfig

FAKE_CAMERA = shutil.which("arv-fake-gv-camera-0.8")


def _aravis_usable() -> bool:
    try:
        from dda.station.plugins.sources.gige import load_aravis

        load_aravis()
    except DDAError:
        return False
    return FAKE_CAMERA is not None


@pytest.fixture(scope="module")
def fake_gige_camera() -> Iterator[str]:
    """Debian's GigE Vision camera emulator, listening on loopback only."""
    if not _aravis_usable():
        pytest.skip(
            "Aravis 0.8 not usable: apt-get install aravis-tools gir1.2-aravis-0.8; pip install PyGObject"
        )
    process = subprocess.Popen(
        [str(FAKE_CAMERA), "-i", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    from dda.station.plugins.sources.gige import load_aravis

    aravis = load_aravis()
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            aravis.update_device_list()
            ids = [aravis.get_device_id(i) for i in range(aravis.get_n_devices())]
            if "Aravis-Fake-GV01" in ids:
                break
            time.sleep(0.2)
        else:
            pytest.fail("arv-fake-gv-camera-0.8 did not show up on 127.0.0.1")
        yield "Aravis-Fake-GV01"
    finally:
        process.terminate()
        process.wait(10)


def _video(path: Path, frames: int = 5) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for index in range(frames):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, :, 2] = 40 * index  # red in BGR: the source must hand out RGB
        writer.write(frame)
    writer.release()
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    old = time.time() - 60
    for index in range(2):
        file = path / f"f{index}.png"
        file.write_bytes(encode_png(np.full((40, 50, 3), 100 + index, np.uint8)))
        os.utime(file, (old + index, old + index))
    return path


def _upload_source(tmp_path: Path) -> ImageSourcePlugin:
    source = UploadSource(UploadSourceConfig())
    source.push(encode_png(np.full((30, 20, 3), 7, np.uint8)), "a.png")
    return source


Factory = Callable[[Path, pytest.FixtureRequest], ImageSourcePlugin]
FACTORIES: dict[str, Factory] = {
    "upload": lambda tmp, _: _upload_source(tmp),
    "folder": lambda tmp, _: build_source(FolderSourceConfig(path=str(_folder(tmp / "in")), min_age_s=0)),
    "opencv": lambda tmp, _: build_source(OpenCVSourceConfig(url=str(_video(tmp / "clip.avi")))),
    "synthetic": lambda tmp, _: build_source(SyntheticSourceConfig(width=96, height=64, seed=1)),
    "gige": lambda tmp, request: build_source(
        GigESourceConfig(camera_id=request.getfixturevalue("fake_gige_camera"))
    ),
}


def test_every_registered_source_has_a_conformance_case() -> None:
    assert set(FACTORIES) == set(SOURCE_PLUGINS)


@pytest.mark.parametrize("kind", sorted(SOURCE_PLUGINS))
def test_source_contract(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = FACTORIES[kind](tmp_path, request)
    assert isinstance(source, ImageSourcePlugin)
    assert isinstance(source.live, bool)
    source.open()
    try:
        applied = source.configure(CameraSettings())
        assert isinstance(applied, frozenset)
        frame = source.grab(5.0)
        assert isinstance(frame, Frame)
        assert frame.image.dtype == np.uint8 and frame.image.ndim == 3 and frame.image.shape[2] == 3
        assert frame.image.flags["C_CONTIGUOUS"] and frame.captured_at.tzinfo is not None
    finally:
        source.close()
    source.close()  # closing twice is harmless
    with pytest.raises(DDAError):
        source.grab(0.05)


def test_folder_takes_oldest_first_and_moves_files_aside(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "in")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    source = build_source(FolderSourceConfig(path=str(folder), min_age_s=0))
    source.open()
    assert int(source.grab(1).image[0, 0, 0]) == 100
    assert int(source.grab(1).image[0, 0, 0]) == 101
    with pytest.raises(InvalidInput):
        source.grab(1)  # the broken file (newest) is moved to failed/ so it cannot block the queue
    with pytest.raises(NoFrameYet):
        source.grab(0.1)
    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["f0.png", "f1.png"]
    assert (folder / "failed" / "broken.png").is_file()


def test_opencv_video_file_gives_rgb_and_loops(tmp_path: Path) -> None:
    source = build_source(OpenCVSourceConfig(url=str(_video(tmp_path / "clip.avi", frames=3))))
    source.open()
    reds = [int(source.grab(1).image[0, 0, 0]) for _ in range(4)]
    source.close()
    assert reds[0] < 10 and 70 <= reds[2] <= 90  # red channel first: converted from BGR
    assert reds[3] == reds[0]  # looped back to the start


def test_synthetic_camera_renders_defects_at_the_rate_asked() -> None:
    source = build_source(SyntheticSourceConfig(width=80, height=60, seed=3, defect_rate=1.0))
    source.open()
    frames = [source.grab(1) for _ in range(3)]
    assert all(f.metadata["defect"] for f in frames) and frames[0].image.shape == (60, 80, 3)


def test_gige_exposure_gain_roi_go_to_the_camera(fake_gige_camera: str) -> None:
    from dda.station.plugins.sources.gige import GigESource

    source = GigESource(GigESourceConfig(camera_id=fake_gige_camera))
    source.open()
    try:
        applied = source.configure(
            CameraSettings(exposure_us=5000, gain=2.0, roi=Roi(x=16, y=8, width=128, height=96))
        )
        assert applied == {"exposure", "gain", "roi"}
        camera = source._camera
        assert camera.get_exposure_time() == pytest.approx(5000)
        assert camera.get_gain() == pytest.approx(2.0)
        assert source.region() == (16, 8, 128, 96)
        frame = source.grab(5)
        assert frame.image.shape == (96, 128, 3)  # the camera sent only the ROI
        assert frame.origin == fake_gige_camera
    finally:
        source.close()


def test_gige_grab_skips_frames_taken_before_it(fake_gige_camera: str) -> None:
    """The emulator streams at 25 fps; a grab after a pause must not return the queued old frames."""
    source = build_source(GigESourceConfig(camera_id=fake_gige_camera))
    source.open()
    try:
        source.configure(CameraSettings(roi=Roi(x=0, y=0, width=64, height=48)))
        first = source.grab(5).metadata["frame_id"]
        time.sleep(0.4)  # about ten frames arrive meanwhile; the stream holds four buffers
        second = source.grab(5).metadata["frame_id"]
    finally:
        source.close()
    assert second - first >= 8


def test_gige_unknown_camera_names_what_was_found(fake_gige_camera: str) -> None:
    source = build_source(GigESourceConfig(camera_id="No-Such-Camera"))
    with pytest.raises(DDAError) as caught:
        source.open()
    assert "No-Such-Camera" in caught.value.message
