"""A small typed client for the portal API (httpx), used by the CLI and the tests.

    from dda.client import PortalClient
    with PortalClient("http://127.0.0.1:8000") as portal:
        portal.auth.login("root", "...")
        for usecase in portal.usecases.list():
            print(usecase.name, usecase.my_role)

One module per area (auth, usecases, users, team, tokens); later issues add theirs the same way.
"""

from dda.client.base import PortalError, Session
from dda.client.portal import PortalClient

__all__ = ["PortalClient", "PortalError", "Session"]
