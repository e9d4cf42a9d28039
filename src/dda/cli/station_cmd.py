"""`dda station`: run the edge station and manage what it trusts and runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from dda.cli._common import handle_errors
from dda.core.settings import Settings, get_settings

station_app = typer.Typer(help="Run the edge station (LocalServer)", no_args_is_help=True)


@station_app.command("serve")
@handle_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: settings station.host)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings station.port, 5000)")] = None,
) -> None:
    """Start the station: REST API, web UI, KServe v2 and /metrics on one port."""
    settings = get_settings()
    bind_host = host or settings.station.host
    bind_port = port or settings.station.port
    typer.echo(f"DDA station on http://{bind_host}:{bind_port}  (data: {settings.station_dir})", err=True)
    _serve(settings, bind_host, bind_port)


def _serve(settings: Settings, host: str, port: int, announce: Callable[[], None] | None = None) -> None:
    """Run the station app; ``announce`` is called once the port accepts connections (so what it
    prints comes after the start-up logs)."""
    from dda.station.app import create_app

    announcing_server(create_app(settings), host, port, announce).run()


def announcing_server(app: Any, host: str, port: int, announce: Callable[[], None] | None = None) -> Any:
    """A uvicorn server that calls ``announce`` right after it started listening."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if announce is not None and self.started:
                announce()

    # proxy_headers=False: X-Forwarded-For is trusted only from station.trusted_proxies (in the app)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False)
    return _Server(config)


@station_app.command("create-admin")
@handle_errors
def create_admin(
    username: Annotated[str, typer.Option(prompt=True, help="Login name")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters"),
    ],
    reset: Annotated[bool, typer.Option("--reset", help="Set a new password for an existing user")] = False,
) -> None:
    """Create an admin account (or reset its password with --reset)."""
    from dda.station.context import build_station
    from dda.station.services import auth

    station = build_station(get_settings())
    try:
        with station.session() as session:
            if reset:
                auth.set_password(session, username, password)
            else:
                auth.create_user(session, username, password, role="admin")
    finally:
        station.engine.dispose()
    typer.echo(f"{'password reset for' if reset else 'admin created:'} {username}")


@station_app.command("trust-key")
@handle_errors
def trust_key(
    public_key: Annotated[Path, typer.Argument(help="Ed25519 public key (PEM) of a package signer")],
    name: Annotated[str | None, typer.Option(help="File name in trusted_keys/ (default: the key's)")] = None,
) -> None:
    """Trust packages signed by this key."""
    from dda.station.paths import StationPaths
    from dda.station.services.models import trust_key as add_key

    paths = StationPaths.from_settings(get_settings())
    paths.ensure()
    target = add_key(paths, public_key, name)
    typer.echo(f"trusted: {target}")


@station_app.command("install-model")
@handle_errors
def install_model(
    package: Annotated[Path, typer.Argument(help="Model package (.tar.gz) made by `dda package`")],
) -> None:
    """Verify (signature + hashes against the trusted keys) and install a model package."""
    from dda.station.paths import StationPaths
    from dda.station.services.models import install_archive

    paths = StationPaths.from_settings(get_settings())
    paths.ensure()
    name, version = install_archive(paths, package)
    typer.echo(f"installed: {name} {version}  ({paths.model_repo / name / version})")


@handle_errors
def demo(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: settings station.host)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings station.port, 5000)")] = None,
    images: Annotated[
        int | None, typer.Option(min=4, help="Synthetic training images (default: 80; --station-only: 120)")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Training epochs at most (default: 8; --station-only: 15)")
    ] = None,
    fps: Annotated[float, typer.Option(help="Frame rate of the synthetic camera")] = 5.0,
    serve_station: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep running at the end (until Ctrl+C)")
    ] = True,
    station_only: Annotated[
        bool, typer.Option("--station-only", help="Only a station with a locally trained model (no portal)")
    ] = False,
    portal_port: Annotated[
        int | None, typer.Option(help="The portal's port (default: settings portal.port, 8000)")
    ] = None,
) -> None:
    """The demo (`make run`): the whole system on this machine. A portal and a station enrolled to it;
    the synthetic dataset registered, a model trained by a portal job (reused on later runs),
    compiled, packaged, published and deployed to the station, whose synthetic camera inspects with
    it. `--station-only`: the station alone, with a model trained and installed locally."""
    import logging

    settings = get_settings()
    if not station_only:
        from dda.cli.demo_system import Endpoints, run_demo_system

        station_port = port or settings.station.port
        endpoints = Endpoints(host or "127.0.0.1", portal_port or settings.portal.port, station_port)
        run_demo_system(settings, endpoints, fps, serve=serve_station, images=images, epochs=epochs)
        return
    from dda.station.demo import SYNTHETIC_ONLY, demo_settings, prepare

    user, password = prepare(settings, images=images, epochs=epochs, fps=fps)
    bind_host, bind_port = host or settings.station.host, port or settings.station.port

    def announce() -> None:
        typer.echo("\nworkflow 'demo-cookies' runs continuously on the synthetic camera; see the Live page.")
        typer.echo(f"note: {SYNTHETIC_ONLY}")
        typer.echo(f"demo data: {demo_settings(settings).station_dir} (`dda station serve` uses its own)")
        typer.secho(f"\nDDA station: http://{bind_host}:{bind_port}", bold=True)
        typer.secho("login: " + user + (f" / {password}" if password else ""), bold=True)

    if not serve_station:
        announce()
        return
    for name in ("uvicorn", "uvicorn.error"):  # the banner is the last thing on the terminal
        logging.getLogger(name).setLevel(logging.WARNING)
    _serve(demo_settings(settings), bind_host, bind_port, announce)


def register(app: typer.Typer) -> None:
    from dda.cli.station_fleet_cmd import add_commands

    add_commands(station_app)
    app.add_typer(station_app, name="station")
    app.command("demo")(demo)
