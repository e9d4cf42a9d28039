"""`dda station enroll` and `dda station agent`: join a portal's fleet and follow its deployments."""

from __future__ import annotations

from typing import Annotated

import typer

from dda.cli._common import handle_errors
from dda.core.settings import get_settings


@handle_errors
def enroll(
    portal_url: Annotated[str, typer.Argument(help="The portal's URL, e.g. https://portal.plant:8000")],
    token: Annotated[
        str, typer.Argument(help="The one-time enrollment token from the portal's Devices page")
    ],
    name: Annotated[
        str | None, typer.Option(help="Device name (default: the token's, else the host name)")
    ] = None,
) -> None:
    """Enroll this station: make its device key (kept here, mode 0600), register with the portal and
    trust the use case's package-signing keys. `dda station serve` then runs the agent."""
    from dda.station.agent.identity import enroll as run_enroll
    from dda.station.paths import StationPaths

    paths = StationPaths.from_settings(get_settings())
    paths.root.mkdir(parents=True, exist_ok=True)
    identity = run_enroll(paths, portal_url, token, name)
    typer.echo(f"enrolled as {identity.name} ({identity.device_id}) in use case {identity.usecase_name}")


@handle_errors
def agent(
    interval: Annotated[
        float | None, typer.Option(help="Seconds between heartbeats (default: the portal's)")
    ] = None,
) -> None:
    """Run only the fleet agent (for a station that is not serving; `dda station serve` runs it itself)."""
    from dda.station.agent.worker import Agent
    from dda.station.context import build_station

    station = build_station(get_settings())
    runner = Agent.for_station(station, interval_s=interval)
    if runner is None:
        raise typer.BadParameter(
            "this station is not enrolled: run `dda station enroll PORTAL_URL TOKEN` first"
        )
    typer.echo(f"fleet agent for {runner.identity.name} -> {runner.identity.portal_url}", err=True)
    runner.setup()
    try:
        runner.run_loop()
    except KeyboardInterrupt:
        pass
    finally:
        runner.teardown()
        station.engine.dispose()


def add_commands(station_app: typer.Typer) -> None:
    station_app.command("enroll")(enroll)
    station_app.command("agent")(agent)
