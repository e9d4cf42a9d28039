"""`dda demo` (the README's `make run`): the whole system on one machine.

A portal (SQLite, a local object store, embedded job workers) and a station enrolled to it (serving
its UI, with its fleet agent) run as child processes; this orchestrator drives them through their
HTTP APIs as a user would: a demo use case and admin, the synthetic dataset as a dataset version, a
model trained by a portal job (reused on later runs), compiled, packaged, published and deployed to
the station by a deployment, and the station's synthetic camera inspecting with it. It prints both
URLs and logins last and runs until Ctrl+C, which stops both cleanly.

Everything lives in ``<data_dir>/demo-system`` (passwords and the secret key generated once,
stored mode 0600), so `dda portal serve` and `dda station serve` stay clean. The orchestrator
imports neither the portal's nor the station's code: it starts commands and calls APIs.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from dda.cli import demo_portal
from dda.cli.demo_procs import (
    Child,
    check_port_free,
    child_env,
    run_once,
    secret_from_file,
    write_secret_file,
)
from dda.cli.demo_station import StationApi
from dda.core.errors import Unavailable
from dda.core.settings import Settings

ADMIN = "admin"
# The first run's model, tiny so that the first `make run` is quick on two CPU cores: 48
# synthetic photos at the camera's aspect ratio, a 128x160 input, at most 5 epochs. (`dda demo
# --station-only` trains the larger, measured recipe of dda.station.demo.)
DATASET_IMAGES, PHOTO_SIZE = 48, (288, 384)
TRAIN_OPTIONS: dict[str, Any] = {"epochs": 5, "input_size": [128, 160], "batch_size": 16, "seed": 0}
AGENT_INTERVAL_S = "2"  # heartbeats and desired-state polls: a deployment lands in seconds


@dataclass(frozen=True)
class SystemPaths:
    root: Path

    @property
    def portal(self) -> Path:
        return self.root / "portal"

    @property
    def station(self) -> Path:
        return self.root / "station"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def synthetic(self) -> Path:
        return self.root / "synthetic"

    @property
    def logins(self) -> Path:
        return self.root / "login.txt"

    @property
    def enrolled(self) -> Path:
        return self.station / "station" / "fleet" / "device.json"


@dataclass(frozen=True)
class Endpoints:
    host: str
    portal_port: int
    station_port: int

    @property
    def portal(self) -> str:
        return f"http://{self.host}:{self.portal_port}"

    @property
    def station(self) -> str:
        return f"http://{self.host}:{self.station_port}"


class Progress:
    """One line per step with its time; sub-lines (job progress) indented."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        typer.secho(f"• {what} ...", err=True)
        begun = time.perf_counter()
        yield
        typer.secho(f"  done in {time.perf_counter() - begun:.0f} s", dim=True, err=True)

    def detail(self, line: str) -> None:
        typer.secho(f"    {line}", dim=True, err=True)


def read_logins(paths: SystemPaths) -> dict[str, str]:
    """``{"portal": password, "station": password}``, each generated once and kept 0600."""
    logins: dict[str, str] = {}
    if paths.logins.is_file():
        for line in paths.logins.read_text().splitlines():
            system, _, rest = line.partition(" ")
            logins[system] = rest.partition(":")[2]
    changed = False
    for system in ("portal", "station"):
        if not logins.get(system):
            logins[system], changed = make_password(), True
    if changed:
        text = "".join(f"{s} {ADMIN}:{p}\n" for s, p in logins.items())
        write_secret_file(paths.logins, text)
    return logins


def make_password(length: int = 16) -> str:
    """A random password with upper- and lower-case letters, digits and symbols (the portal's policy)."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits + "-_.+="
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        classes = (str.islower, str.isupper, str.isdigit, lambda c: c in "-_.+=")
        if all(any(test(c) for c in password) for test in classes):
            return password


class DemoSystem:
    """The run: its folders, secrets, child processes, and the steps in order."""

    def __init__(
        self, settings: Settings, endpoints: Endpoints, fps: float, images: int, epochs: int
    ) -> None:
        self.paths = SystemPaths(settings.data_dir / "demo-system")
        self.paths.root.mkdir(parents=True, exist_ok=True)
        self.endpoints, self.fps, self.images, self.epochs = endpoints, fps, images, epochs
        self.weights_dir = settings.resolved_weights_dir
        self.secret = secret_from_file(self.paths.root / "secret.key", 48)
        self.logins = read_logins(self.paths)
        self.progress = Progress()
        self.portal = Child("portal", endpoints.portal, self.paths.logs / "portal.log")
        self.station = Child("station", endpoints.station, self.paths.logs / "station.log")

    def env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        return child_env(data_dir, self.secret, self.weights_dir, **extra)

    def run(self) -> dict[str, Any]:
        """Every step up to a verdict on the station; returns what to announce."""
        check_port_free(self.endpoints.host, self.endpoints.portal_port, "--portal-port")
        check_port_free(self.endpoints.host, self.endpoints.station_port, "--station-port")
        with self.progress.step(f"starting the portal on {self.endpoints.portal}"):
            self.start_portal()
        client = demo_portal.login(self.endpoints.portal, ADMIN, self.logins["portal"])
        try:
            usecase_id = demo_portal.ensure_usecase(client)
            package = self.model(client, usecase_id)
            device_id = self.start_station(client, usecase_id)
            with self.progress.step("deploying the model to the station (a portal deployment)"):
                demo_portal.deploy(client, usecase_id, device_id, package[0], self.progress.detail)
        finally:
            client.close()
        with self.progress.step("starting the synthetic camera's workflow on the station"):
            verdict = self.inspect(package[1], package[2])
        return {"usecase_id": usecase_id, "device_id": device_id, "package": package, "verdict": verdict}

    def start_portal(self) -> None:
        env = self.env(self.paths.portal)
        admin_made = self.paths.root / ".portal-admin"
        if not admin_made.is_file():  # first run: the database and its admin
            run_once(
                ["portal", "create-admin", ADMIN],
                {**env, "DDA_ADMIN_PASSWORD": self.logins["portal"]},
                self.portal.log,
            )
            admin_made.touch()
        self.portal.start(
            ["portal", "serve", "--host", self.endpoints.host, "--port", str(self.endpoints.portal_port)], env
        )
        self.portal.wait_http("/api/v1/health")

    def model(self, client: Any, usecase_id: str) -> tuple[str, str, str]:
        """The published package to deploy: (archive key, name, version); trained only when the use
        case has no model version yet."""
        with self.progress.step("registering the synthetic dataset as a dataset version"):
            dataset = demo_portal.ensure_dataset_version(client, usecase_id, self.synthetic_manifest())
        version = demo_portal.latest_model_version(client, usecase_id)
        if version is None:
            with self.progress.step("training, compiling, packaging and publishing a model (portal jobs)"):
                options = {**TRAIN_OPTIONS, "epochs": self.epochs, "pretrained": pretrained_available()}
                demo_portal.train_and_publish(client, usecase_id, dataset, options, self.progress.detail)
            version = demo_portal.latest_model_version(client, usecase_id)
            assert version is not None, "a succeeded training job registers its model"
        else:
            typer.secho(f"• reusing model {version.model_name} v{version.version}", err=True)
        package = demo_portal.published_package(client, usecase_id, version)
        if package is None:
            with self.progress.step("compiling, packaging and publishing the model (portal jobs)"):
                demo_portal.publish_existing(client, usecase_id, version, dataset, self.progress.detail)
            package = demo_portal.published_package(client, usecase_id, version)
        if package is None:
            raise Unavailable("the model was not published", hint="see the Jobs in the portal")
        return package

    def synthetic_manifest(self) -> Path:
        manifest = self.paths.synthetic / "groundtruth.manifest"
        if not manifest.is_file():
            from dda.formats.synthetic import generate_synthetic_dataset

            generate_synthetic_dataset(
                self.paths.synthetic, count=self.images, size=PHOTO_SIZE, image_format="jpg", progress=False
            )
        return manifest

    def start_station(self, client: Any, usecase_id: str) -> str:
        env = self.env(self.paths.station, DDA_STATION__AGENT_INTERVAL_S=AGENT_INTERVAL_S)
        if self.enrolled_portal() != self.endpoints.portal:  # first run, or the portal moved ports
            with self.progress.step("enrolling the station to the portal"):
                token = demo_portal.enrollment_token(client, usecase_id)
                run_once(["station", "enroll", self.endpoints.portal, token], env, self.station.log)
        import json

        device_id = str(json.loads(self.paths.enrolled.read_text())["device_id"])
        with self.progress.step(f"starting the station (with its fleet agent) on {self.endpoints.station}"):
            self.station.start(
                [
                    "station",
                    "serve",
                    "--host",
                    self.endpoints.host,
                    "--port",
                    str(self.endpoints.station_port),
                ],
                env,
            )
            self.station.wait_http("/api/v1/health")
            demo_portal.wait_online(client, usecase_id, device_id)
        return device_id

    def enrolled_portal(self) -> str | None:
        """The portal URL the station enrolled with (None before its first enrollment)."""
        import json

        if not self.paths.enrolled.is_file():
            return None
        return str(json.loads(self.paths.enrolled.read_text()).get("portal_url", ""))

    def inspect(self, model: str, version: str) -> dict[str, Any]:
        station = StationApi(self.endpoints.station)
        try:
            station.ensure_admin(ADMIN, self.logins["station"])
            source_id = station.ensure_source(self.fps)
            workflow_id = station.ensure_workflow(source_id, model, version)
            return station.first_verdict(workflow_id, version)
        finally:
            station.close()

    def stop(self) -> None:
        self.station.stop()
        self.portal.stop()

    def wait(self) -> None:
        """Until Ctrl+C (or SIGTERM); a child that dies ends the demo with its log named."""
        while True:
            for child in (self.portal, self.station):
                if not child.alive():
                    raise Unavailable(f"the {child.name} stopped", hint=f"read {child.log}")
            time.sleep(0.5)


def pretrained_available() -> bool:
    """Whether the ImageNet MobileNetV2 weights are here (never downloaded at run time)."""
    from dda.ml.weights import find_pretrained_weights

    try:
        find_pretrained_weights("mobilenet_v2")
    except Exception:
        return False
    return True


def announce(system: DemoSystem, outcome: dict[str, Any]) -> None:
    _, model, version = outcome["package"]
    verdict = outcome["verdict"]
    typer.echo(
        f"\nThe station's synthetic camera is inspecting with {model} {version} "
        f"(deployed from the portal); first verdict: {verdict['prediction']} "
        f"(score {verdict['anomaly_score']:.2f})."
    )
    typer.echo("The demo model knows only synthetic cookies; train your own on your photos (see the README).")
    typer.echo(
        f"demo data and logs: {system.paths.root}  (logins also in {system.paths.logins.name}, mode 0600)"
    )
    logins = system.logins
    typer.secho(f"\nDDA portal:  {system.endpoints.portal}   login: {ADMIN} / {logins['portal']}", bold=True)
    typer.secho(f"DDA station: {system.endpoints.station}   login: {ADMIN} / {logins['station']}", bold=True)
    typer.echo("Ctrl+C stops both.")


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo_system(
    settings: Settings,
    endpoints: Endpoints,
    fps: float,
    *,
    serve: bool = True,
    images: int | None = None,
    epochs: int | None = None,
) -> None:
    """`dda demo`: bring the system up, announce it, wait for Ctrl+C, stop it all."""
    # Ctrl+C even when started in the background of a script (which ignores SIGINT), and SIGTERM
    # from a service manager, both end in the same clean stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    for name in ("httpx", "httpcore"):  # one line per request would bury the progress
        logging.getLogger(name).setLevel(logging.WARNING)
    epochs = epochs or int(TRAIN_OPTIONS["epochs"])
    system = DemoSystem(settings, endpoints, fps, images or DATASET_IMAGES, epochs)
    try:
        outcome = system.run()
        typer.secho(f"ready in {time.perf_counter() - system.progress.started:.0f} s", dim=True, err=True)
        announce(system, outcome)
        if serve:
            system.wait()
    except KeyboardInterrupt:
        typer.echo("\nstopping the station and the portal ...", err=True)
    finally:
        system.stop()
