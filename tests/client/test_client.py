"""dda.client against the real portal app served by uvicorn on loopback (a thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from dda.client import PortalClient, PortalError, Session
from dda.core.settings import Settings
from dda.portal.app import create_app
from dda.portal.services import auth as auth_service
from tests.portal.conftest import PASSWORD
from tests.procs import free_port


@pytest.fixture
def served(isolated_settings: Path) -> Iterator[str]:
    """The portal app on a free loopback port, with a PortalAdmin 'root'."""
    port = free_port()

    def make_admin(portal: object) -> None:
        with portal.session() as session:  # type: ignore[attr-defined]
            auth_service.create_user(session, "root", PASSWORD, is_portal_admin=True)

    app = create_app(
        Settings(data_dir=isolated_settings, env="test"), configure_logs=False, on_ready=make_admin
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_client_round_trip_and_errors(served: str) -> None:
    saved: list[Session] = []
    with PortalClient(served, on_tokens=saved.append) as client:
        assert client.health() == {"status": "ok"}
        with pytest.raises(PortalError) as wrong:
            client.auth.login("root", "Wrong-Password-1")
        assert wrong.value.status == 401 and wrong.value.code == "not_authenticated" and wrong.value.hint
        client.auth.login("root", PASSWORD)
        assert saved[-1].access_token == client.http.token and saved[-1].url == served
        usecase = client.usecases.create("cookies", description="line 1")
        assert client.usecases.find("cookies").id == usecase.id
        assert [u.name for u in client.usecases.list()] == ["cookies"]
        client.users.create("dana", PASSWORD)
        member = client.team.add(usecase.id, "dana", "DataScientist")
        assert member.role == "DataScientist"
        assert client.team.change(usecase.id, "dana", "Viewer").role == "Viewer"
        assert [m.username for m in client.team.list(usecase.id)] == ["dana", "root"]
        made = client.tokens.create(usecase.id, "ci", "Viewer", 10)
        assert [t.id for t in client.tokens.list()] == [made.id]
        with pytest.raises(PortalError) as weak:
            client.users.create("weak", "password")
        assert weak.value.status == 422 and "policy" in weak.value.message and weak.value.hint
        with pytest.raises(PortalError) as invalid:
            client.users.create("bad name!", PASSWORD)
        assert invalid.value.status == 422 and "username" in invalid.value.message
        with pytest.raises(PortalError) as missing:
            client.usecases.get("00000000-0000-0000-0000-000000000000")
        assert missing.value.status == 404 and missing.value.code == "usecase_not_found"

        # An access token that stops working is renewed once with the refresh token, then saved.
        client.http.token = "not-a-token"
        assert client.auth.me().username == "root"
        assert saved[-1].access_token == client.http.token != "not-a-token"

        with PortalClient(served, token=made.token) as bot:
            assert [u.my_role for u in bot.usecases.list()] == ["Viewer"]
            with pytest.raises(PortalError) as denied:
                bot.users.list()
            assert denied.value.status == 403
        client.tokens.revoke(made.id)
        client.auth.logout()
        assert client.http.token is None

    with PortalClient("http://127.0.0.1:9") as nowhere, pytest.raises(PortalError) as unreachable:
        nowhere.health()
    assert unreachable.value.code == "unreachable"
