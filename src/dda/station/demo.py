"""`dda demo` (the README's `make run`): a station running on synthetic camera images end to end.

Steps, each skipped when its result already exists (a second run reuses the last model):
synthetic data -> train a small model -> export for this CPU -> sign and package (one child
process for all of these) -> trust the key and install the package -> an admin account, a
synthetic camera source and a continuous workflow -> serve, printing the URL and the login last.

The demo station keeps its own data folder (``<data_dir>/demo/station``): a later
`dda station serve` starts the real, clean station. Its workflow stores every anomaly, one normal
part in ten, and keeps a day of results.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from dda.core.errors import Unavailable
from dda.core.settings import Settings
from dda.station.context import Station, build_station
from dda.station.db.models import ImageSource, Workflow
from dda.station.repositories import sources as sources_repo
from dda.station.repositories import users as users_repo
from dda.station.repositories import workflows as workflows_repo
from dda.station.services import auth
from dda.station.services.models import install_archive, trust_key

DEMO_USER = "admin"
# The synthetic camera of the demo workflow (a real line's set-up: 768x576 frames, 30 % defective).
CAMERA_WIDTH, CAMERA_HEIGHT, CAMERA_DEFECT_RATE = 768, 576, 0.3
MODEL_NAME = "demo-cookies"
MODEL_VERSION = "1"
SOURCE_NAME = "Demo camera (synthetic cookies)"
WORKFLOW_NAME = "demo-cookies"
# Every anomaly, a sample of good parts, a day of history: a demo left running does not fill the disk.
DEMO_STORAGE = {"normal_sample_every": 10, "retention_days": 1.0}
SYNTHETIC_ONLY = (
    "The demo model knows only synthetic cookies: it will not judge photos of real parts. "
    "Train your own with `dda train` on your labelled images (see the README)."
)
DEMO_GOLDEN_IMAGES = 16
console = Console(stderr=True)


@dataclass(frozen=True)
class DemoRecipe:
    """What the demo trains: segmentation (it outlines the defect on the Live page) on 120 synthetic
    photos at half the camera's size, at a 256x352 input, 15 epochs.

    Measured by bench/bench_demo_model.py on 200-300 fresh camera frames (other seeds, 768x576,
    30 % defective), 2 CPU cores, three training seeds: image AUROC 0.999-1.000, F1 0.97-1.00,
    `dda train` 75-90 s. The former recipe (classification, 60 photos, 5 epochs, 192x256) with
    the former generator reached AUROC 0.58, F1 0.39. A 224x288 input trains in ~65 s but misses
    more thin cracks (AUROC 0.985-0.999, F1 0.92-0.96).
    """

    images: int = 120
    epochs: int = 15
    model_type: str = "segmentation"
    photo_size: tuple[int, int] = (288, 384)  # (height, width) of the synthetic training photos
    input_size: tuple[int, int] = (256, 352)  # (height, width) the model sees
    seed: int = 0

    def synth_args(self, out: Path) -> list[str]:
        height, width = self.photo_size
        size = f"{height}x{width}"
        return ["data", "synth", str(out), "-n", str(self.images), "--size", size, "--format", "jpg",
                "--seed", str(self.seed)]  # fmt: skip

    def train_args(self, manifest: Path, out: Path) -> list[str]:
        height, width = self.input_size
        return ["train", str(manifest), "-o", str(out), "--type", self.model_type, "--epochs",
                str(self.epochs), "--input-size", f"{height}x{width}", "--seed", str(self.seed)]  # fmt: skip


DEMO_RECIPE = DemoRecipe()


@dataclass(frozen=True)
class DemoPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def model(self) -> Path:
        return self.root / "model.tar.gz"  # what `dda train -o` writes

    @property
    def exported(self) -> Path:
        return self.root / "exported"

    @property
    def package_dir(self) -> Path:
        return self.root / "package"

    @property
    def archive(self) -> Path:
        return self.root / "package.tar.gz"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def credentials(self) -> Path:
        return self.root / "login.txt"

    @property
    def station(self) -> Path:
        return self.root / "station"


def demo_settings(settings: Settings) -> Settings:
    """The demo station's settings: its own folder and SQLite database under ``<data_dir>/demo``,
    so the real station (``dda station serve``) stays clean."""
    station = settings.station.model_copy(update={"database_url": None})
    return settings.model_copy(update={"data_dir": settings.data_dir / "demo", "station": station})


def _dda(*args: str) -> None:
    """Run one `dda` step in a child process (training needs torch; the station does not)."""
    _dda_steps([list(args)])


def _dda_steps(steps: list[list[str]]) -> None:
    """Run `dda` steps one after the other in one child process (one interpreter start, one torch
    import), which prints each step's time."""
    if not steps:
        return
    command = [sys.executable, "-m", "dda.station.demo_build", json.dumps(steps)]
    if subprocess.run(command, check=False).returncode != 0:
        raise Unavailable(
            "building the demo model failed", hint="see the error above; fix it and run `make run` again"
        )


def build_model(paths: DemoPaths, recipe: DemoRecipe = DEMO_RECIPE) -> Path:
    """Synthetic data -> trained model -> export -> signed package archive (reused when present)."""
    if paths.archive.is_file():
        console.print(f"reusing the last demo model: {paths.archive}")
        return paths.archive
    started = time.perf_counter()
    manifest = paths.data / "groundtruth.manifest"
    steps: list[list[str]] = []
    if not manifest.is_file():
        steps.append(recipe.synth_args(paths.data))
    if not paths.model.is_file():
        steps.append(recipe.train_args(manifest, paths.model))
    if not (paths.exported / "export.json").is_file():
        # 16 golden frames for the parity gate (default 64): a quarter of the export's checking time
        export = ["export", str(paths.model), "-t", "x86_64-cpu", "-o", str(paths.exported), "--overwrite"]
        steps.append([*export, "--golden-limit", str(DEMO_GOLDEN_IMAGES)])
    if not (paths.keys / "signing-key.pem").is_file():
        steps.append(["package", "keygen", "--dir", str(paths.keys)])
    if paths.package_dir.exists():
        import shutil

        shutil.rmtree(paths.package_dir)
    steps.append([
        "package",
        "build",
        str(paths.exported),
        "--name",
        MODEL_NAME,
        "--version",
        MODEL_VERSION,
        "-o",
        str(paths.package_dir),
        "--key",
        str(paths.keys / "signing-key.pem"),
    ])  # fmt: skip
    _dda_steps(steps)
    from dda.packaging import archive_package

    archive = archive_package(paths.package_dir, paths.archive)
    console.print(f"demo model ready in {time.perf_counter() - started:.0f} s")
    return archive


def _login(station: Station, paths: DemoPaths) -> tuple[str, str | None]:
    """The demo admin's login; None as password when the station already had users."""
    with station.session() as session:
        if paths.credentials.is_file():
            user, _, password = paths.credentials.read_text().strip().partition(":")
            if users_repo.by_username(session, user) is not None:
                return user, password
        if not auth.setup_required(session):
            return "(your existing account)", None
        password = os.environ.get("DDA_DEMO_PASSWORD") or secrets.token_urlsafe(12)
        auth.create_user(session, DEMO_USER, password, is_admin=True)
    fd = os.open(paths.credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{DEMO_USER}:{password}\n")
    return DEMO_USER, password


def _workflow(station: Station, fps: float) -> None:
    """A synthetic camera source and a continuous workflow on the demo model, left running.
    The camera renders at twice the training photos' size; the model resizes every frame to its
    input size, and synthetic defects are sized to the frame, so the two look alike to it."""
    with station.session() as session:
        source = sources_repo.by_name(session, SOURCE_NAME)
        if source is None:
            source = ImageSource(
                name=SOURCE_NAME,
                type="synthetic",
                camera={},
                config={
                    "type": "synthetic",
                    "product": "cookie",
                    "defect_rate": CAMERA_DEFECT_RATE,
                    "width": CAMERA_WIDTH,
                    "height": CAMERA_HEIGHT,
                    "fps": fps,
                    "seed": None,
                },
            )
            session.add(source)
            session.flush()
        workflow = workflows_repo.by_name(session, WORKFLOW_NAME)
        if workflow is None:
            workflow = Workflow(
                name=WORKFLOW_NAME,
                source_id=source.id,
                model_name=MODEL_NAME,
                model_version=MODEL_VERSION,
                triggers=[{"type": "continuous"}],
                outputs=[],
                storage=DEMO_STORAGE,
            )
            session.add(workflow)
        workflow.state = "running"  # started when the station starts


def prepare(
    settings: Settings, *, images: int | None = None, epochs: int | None = None, fps: float = 5.0
) -> tuple[str, str | None]:
    """Everything up to serving. Returns the login to print. ``images`` and ``epochs`` override
    the :data:`DEMO_RECIPE`'s."""
    paths = DemoPaths(settings.data_dir / "demo")
    paths.root.mkdir(parents=True, exist_ok=True)
    recipe = replace(DEMO_RECIPE, images=images or DEMO_RECIPE.images, epochs=epochs or DEMO_RECIPE.epochs)
    archive = build_model(paths, recipe)
    station = build_station(demo_settings(settings))
    try:
        trust_key(station.paths, paths.keys / "signing-key.pub.pem", name="demo-signer")
        if not (station.paths.model_repo / MODEL_NAME / MODEL_VERSION).is_dir():
            install_archive(station.paths, archive)
        login = _login(station, paths)
        _workflow(station, fps)
    finally:
        station.engine.dispose()
    return login
