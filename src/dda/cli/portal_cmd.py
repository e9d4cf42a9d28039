"""`dda portal ...`: run the portal, migrate its database, create the first admin, and talk to a
running portal through :mod:`dda.client` (login, use cases, ...)."""

from __future__ import annotations

import getpass

import typer

from dda.cli._common import handle_errors
from dda.cli.portal_audit_cmd import audit_app

portal_app = typer.Typer(help="Run the portal and manage it.", no_args_is_help=True)
portal_app.add_typer(audit_app, name="audit")


@portal_app.command()
@handle_errors
def serve(
    host: str = typer.Option(None, help="address to listen on (default: settings, 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default: settings, 8000)"),
) -> None:
    """Serve the portal API (OpenAPI at /docs)."""
    import uvicorn

    from dda.core.settings import get_settings
    from dda.portal.app import create_app

    settings = get_settings()
    bind_host = host or settings.portal.host
    bind_port = port or settings.portal.port
    typer.echo(f"DDA portal on http://{bind_host}:{bind_port} (API docs at /docs)")
    uvicorn.run(create_app(settings), host=bind_host, port=bind_port, log_level="warning")


@portal_app.command()
@handle_errors
def migrate() -> None:
    """Create or upgrade the portal database schema."""
    from dda.core.db import redact_url
    from dda.core.settings import get_settings
    from dda.portal.database import migrate as run

    settings = get_settings()
    run(settings.portal_database_url)
    typer.echo(f"portal database at the newest schema: {redact_url(settings.portal_database_url)}")


@portal_app.command("create-admin")
@handle_errors
def create_admin(
    username: str = typer.Argument(..., help="login name of the PortalAdmin"),
    reset: bool = typer.Option(False, "--reset", help="set a new password for an existing user"),
) -> None:
    """Create a PortalAdmin (or reset a user's password). The password is read from the terminal,
    or from the DDA_ADMIN_PASSWORD environment variable for scripts."""
    import os

    from dda.core.settings import get_settings
    from dda.portal.context import build_portal
    from dda.portal.repositories import users as users_repo
    from dda.portal.services import auth as auth_service
    from dda.portal.services import users as users_service

    password = os.environ.get("DDA_ADMIN_PASSWORD") or getpass.getpass("password: ")
    portal = build_portal(get_settings())
    try:
        with portal.session() as session:
            existing = users_repo.by_username(session, username)
            if reset:
                if existing is None:
                    raise typer.BadParameter(f"no user {username!r}")
                users_service.set_password(session, existing, password)
                users_service.set_disabled(session, existing, False)
                typer.echo(f"password of {existing.username} reset; their earlier logins are revoked")
                return
            auth_service.create_user(session, username, password, is_portal_admin=True)
            typer.echo(f"PortalAdmin {username.strip().lower()} created")
    finally:
        portal.close()


def register(app: typer.Typer) -> None:
    from dda.cli import portal_data_cmd, portal_jobs_cmd, portal_models_cmd, portal_remote

    portal_remote.register(portal_app)
    portal_app.add_typer(portal_models_cmd.models_app, name="models")
    portal_data_cmd.register(portal_app)
    portal_jobs_cmd.register(portal_app)
    app.add_typer(portal_app, name="portal")
