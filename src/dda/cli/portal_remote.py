"""`dda portal login|logout|whoami|usecases|users|team|tokens`: talk to a running portal through
:mod:`dda.client`. The login is kept in ``<data_dir>/client/portal-session.json`` (mode 0600)."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

from dda.cli._common import fail, handle_errors

usecases_app = typer.Typer(help="Use cases of the portal you are logged in to.", no_args_is_help=True)
users_app = typer.Typer(help="Users (PortalAdmin).", no_args_is_help=True)
team_app = typer.Typer(help="Who holds which role in a use case.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for automation.", no_args_is_help=True)
ROLES = "UseCaseAdmin, DataScientist, Operator or Viewer"


def session_file() -> Path:
    from dda.core.settings import get_settings

    return get_settings().data_dir / "client" / "portal-session.json"


def save_session(url: str, access: str, refresh: str | None) -> Path:
    path = session_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "access_token": access, "refresh_token": refresh}, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _client() -> Any:
    from dda.client import PortalClient, Session

    token = os.environ.get("DDA_PORTAL_TOKEN")  # an API token for scripts: no login file needed
    url = os.environ.get("DDA_PORTAL_URL")
    if token and url:
        return PortalClient(url, token=token)
    path = session_file()
    if not path.is_file():
        raise fail("not logged in to a portal", hint="run `dda portal login URL` first")
    saved = json.loads(path.read_text())

    def keep(session: Session) -> None:
        save_session(session.url, session.access_token, session.refresh_token)

    return PortalClient(
        saved["url"], token=saved["access_token"], refresh_token=saved.get("refresh_token"), on_tokens=keep
    )


def _show(item: BaseModel | list[Any], as_json: bool, columns: tuple[str, ...] = ()) -> None:
    rows = item if isinstance(item, list) else [item]
    if as_json or not columns:
        data = [r.model_dump(mode="json") for r in rows]
        typer.echo(json.dumps(data if isinstance(item, list) else data[0], indent=2))
        return
    for row in rows:
        values = row.model_dump(mode="json")
        typer.echo("  ".join(str(values.get(c, "")) for c in columns))


def register(portal_app: typer.Typer) -> None:
    portal_app.command()(login)
    portal_app.command()(logout)
    portal_app.command()(whoami)
    portal_app.add_typer(usecases_app, name="usecases")
    portal_app.add_typer(users_app, name="users")
    portal_app.add_typer(team_app, name="team")
    portal_app.add_typer(tokens_app, name="tokens")


@handle_errors
def login(
    url: str = typer.Argument(..., help="the portal's address, e.g. http://127.0.0.1:8000"),
    username: str = typer.Option(None, "--username", "-u", help="default: asked"),
) -> None:
    """Log in and keep the tokens for the other commands (file mode 0600 under the data dir).
    The password is asked, or read from DDA_PORTAL_PASSWORD for scripts."""
    from dda.client import PortalClient

    name = username or typer.prompt("username")
    password = os.environ.get("DDA_PORTAL_PASSWORD") or getpass.getpass("password: ")
    with PortalClient(url) as client:
        tokens = client.auth.login(name, password)
        path = save_session(client.url, tokens.access_token, tokens.refresh_token)
    typer.echo(f"logged in to {url} as {name.strip().lower()} (session kept in {path.name})")


@handle_errors
def logout(
    everywhere: bool = typer.Option(False, help="end every session of yours, on every device"),
) -> None:
    """Revoke this login on the portal and forget it here."""
    path = session_file()
    if not path.is_file():
        typer.echo("not logged in")
        return
    from dda.client import PortalError

    with _client() as client:
        try:
            client.auth.logout(everywhere=everywhere)
        except PortalError as exc:
            if exc.status != 401:  # already expired: nothing left to revoke
                raise
    path.unlink()
    typer.echo("logged out")


@handle_errors
def whoami(as_json: bool = typer.Option(False, "--json")) -> None:
    """Who you are on the portal, and your roles."""
    with _client() as client:
        me = client.auth.me()
    if as_json:
        _show(me, True)
        return
    typer.echo(f"{me.username} on {client.url}" + (" (PortalAdmin)" if me.is_portal_admin else ""))
    for role in me.roles:
        typer.echo(f"  {role.usecase_name}: {role.role}")


@usecases_app.command("list")
@handle_errors
def usecases_list(as_json: bool = typer.Option(False, "--json")) -> None:
    with _client() as client:
        _show(client.usecases.list(), as_json, ("id", "name", "my_role", "onboarding_status"))


@usecases_app.command("create")
@handle_errors
def usecases_create(
    name: str,
    description: str = typer.Option("", help="what the use case inspects"),
    owner: str = typer.Option(None, help="username of the owner (default: you)"),
) -> None:
    """Create a use case (PortalAdmin); it is onboarded at once."""
    fields: dict[str, Any] = {"description": description}
    if owner:
        fields["owner_username"] = owner
    with _client() as client:
        _show(client.usecases.create(name, **fields), False, ("id", "name", "onboarding_status"))


@usecases_app.command("show")
@handle_errors
def usecases_show(usecase: str = typer.Argument(..., help="id or name")) -> None:
    with _client() as client:
        _show(client.usecases.find(usecase), True)


@usecases_app.command("delete")
@handle_errors
def usecases_delete(
    usecase: str = typer.Argument(..., help="id or name"),
    yes: bool = typer.Option(False, "--yes", help="do not ask"),
) -> None:
    with _client() as client:
        row = client.usecases.find(usecase)
        if not yes:
            typer.confirm(f"delete use case {row.name} and its records?", abort=True)
        client.usecases.delete(row.id)
    typer.echo(f"deleted {row.name}")


@users_app.command("list")
@handle_errors
def users_list(as_json: bool = typer.Option(False, "--json")) -> None:
    with _client() as client:
        _show(client.users.list(), as_json, ("id", "username", "is_portal_admin", "disabled"))


@users_app.command("create")
@handle_errors
def users_create(
    username: str,
    admin: bool = typer.Option(False, "--admin", help="make a PortalAdmin"),
    oidc_only: bool = typer.Option(False, "--oidc-only", help="no password: logs in through OpenID Connect"),
    email: str = typer.Option(None),
) -> None:
    """Create a user; the password is asked (or read from DDA_NEW_PASSWORD)."""
    password = (
        None if oidc_only else (os.environ.get("DDA_NEW_PASSWORD") or getpass.getpass("new password: "))
    )
    with _client() as client:
        user = client.users.create(username, password, is_portal_admin=admin, email=email)
    _show(user, False, ("id", "username", "is_portal_admin"))


@users_app.command("show")
@handle_errors
def users_show(user: str = typer.Argument(..., help="id or username")) -> None:
    with _client() as client:
        _show(client.users.get(user), True)


@users_app.command("disable")
@handle_errors
def users_disable(user: str) -> None:
    """Disable a user: every session and API token of theirs stops working."""
    with _client() as client:
        _show(client.users.disable(user), False, ("username", "disabled"))


@users_app.command("enable")
@handle_errors
def users_enable(user: str) -> None:
    with _client() as client:
        _show(client.users.enable(user), False, ("username", "disabled"))


@users_app.command("admin")
@handle_errors
def users_admin(
    user: str, revoke: bool = typer.Option(False, "--revoke", help="take PortalAdmin away")
) -> None:
    """Make a user PortalAdmin (or take it away with --revoke)."""
    with _client() as client:
        _show(client.users.set_portal_admin(user, not revoke), False, ("username", "is_portal_admin"))


@users_app.command("reset-password")
@handle_errors
def users_reset_password(user: str) -> None:
    """Set a new password (asked, or DDA_NEW_PASSWORD); the user's sessions end."""
    password = os.environ.get("DDA_NEW_PASSWORD") or getpass.getpass("new password: ")
    with _client() as client:
        client.users.reset_password(user, password)
    typer.echo(f"password of {user} reset; their sessions are revoked")


@team_app.command("list")
@handle_errors
def team_list(usecase: str, as_json: bool = typer.Option(False, "--json")) -> None:
    with _client() as client:
        _show(client.team.list(client.usecases.find(usecase).id), as_json, ("username", "role", "disabled"))


@team_app.command("add")
@handle_errors
def team_add(usecase: str, username: str, role: str = typer.Argument(..., help=ROLES)) -> None:
    with _client() as client:
        _show(client.team.add(client.usecases.find(usecase).id, username, role), False, ("username", "role"))


@team_app.command("set")
@handle_errors
def team_set(usecase: str, username: str, role: str = typer.Argument(..., help=ROLES)) -> None:
    with _client() as client:
        _show(
            client.team.change(client.usecases.find(usecase).id, username, role), False, ("username", "role")
        )


@team_app.command("remove")
@handle_errors
def team_remove(usecase: str, username: str) -> None:
    with _client() as client:
        client.team.remove(client.usecases.find(usecase).id, username)
    typer.echo(f"{username} removed from {usecase}")


@tokens_app.command("create")
@handle_errors
def tokens_create(
    usecase: str,
    name: str = typer.Option(..., help="what the token is for"),
    role: str = typer.Option("Viewer", help=ROLES + " (at most yours)"),
    days: int = typer.Option(90, help="expiry in days (1-365)"),
) -> None:
    """Create an API token; it is printed once, keep it safe."""
    with _client() as client:
        made = client.tokens.create(client.usecases.find(usecase).id, name, role, days)
    typer.echo(f"token {made.id} ({made.role}, expires {made.expires_at:%Y-%m-%d}); shown only now:")
    typer.echo(made.token)


@tokens_app.command("list")
@handle_errors
def tokens_list(as_json: bool = typer.Option(False, "--json")) -> None:
    with _client() as client:
        _show(client.tokens.list(), as_json, ("id", "name", "usecase_id", "role", "expires_at", "revoked_at"))


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(token_id: str) -> None:
    with _client() as client:
        client.tokens.revoke(token_id)
    typer.echo(f"token {token_id} revoked")
