"""A terminal start is quiet and ends with what a person needs: no Alembic chatter from the
migrations, and the announcement (URL, login) comes once the port accepts connections."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fastapi import FastAPI

from dda.cli.station_cmd import announcing_server
from dda.core.logging import configure_logging
from dda.core.settings import Settings
from dda.station.database import migrate
from tests.procs import free_port


def test_migrations_log_nothing_at_info(
    station_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=False)
    migrate(station_settings.station_database_url)
    captured = capsys.readouterr()
    assert "alembic" not in captured.err.lower() and "alembic" not in captured.out.lower()


def test_the_announcement_comes_when_the_port_accepts_connections() -> None:
    port = free_port()
    connected: list[bool] = []

    def announce() -> None:
        with socket.socket() as probe:
            connected.append(probe.connect_ex(("127.0.0.1", port)) == 0)

    server = announcing_server(FastAPI(), "127.0.0.1", port, announce)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not connected and time.monotonic() < deadline:
        time.sleep(0.05)
    server.should_exit = True
    thread.join(30)
    assert connected == [True]
