"""Who is calling and from where: the real peer address, first-run setup, signed image URLs.

* :func:`client_address` believes ``X-Forwarded-For`` only when the TCP peer is one of the
  configured proxies (``station.trusted_proxies``); anyone else's header is ignored.
* :class:`SetupGuard`: while the station has no user, the first admin can be created from loopback,
  or from elsewhere with the one-time setup code printed on the console at start.
* :class:`UrlSigner`: image URLs the UI can put in ``<img src>`` without a token: an HMAC over one
  file's resource name and an expiry, with a key derived from the station secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlencode

from dda.core.errors import InvalidInput, PermissionDenied
from dda.core.logging import get_logger

log = get_logger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IMAGE_URL_TTL_S = 600


def parse_networks(entries: Sequence[str], what: str) -> list[Network]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise InvalidInput(
                f"{what}: {entry!r} is not an IP address or CIDR", hint="e.g. 10.0.0.5 or 10.0.0.0/24"
            ) from exc
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The real client: the TCP peer, or (only when the peer is a trusted proxy) the right-most
    ``X-Forwarded-For`` hop that is not itself a trusted proxy."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, proxies):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if _address(hop) is None:
            return address  # a garbled chain: fall back to the proxy itself
        if not _trusted(hop, proxies):
            return hop
    return address


def is_loopback(address: str) -> bool:
    parsed = _address(address)
    return parsed is not None and parsed.is_loopback


class SetupGuard:
    """The one-time code that lets a non-loopback client claim an unclaimed station."""

    def __init__(self) -> None:
        self._code: str | None = None
        self._lock = threading.Lock()

    def announce(self) -> str:
        """Make a new code and print it on the console (stderr), where only the installer sees it."""
        with self._lock:
            self._code = secrets.token_hex(4).upper()
            code = self._code
        print(
            "\n  DDA station is not set up yet: create the admin in a browser on this machine, "
            f"or from another machine with the one-time setup code: {code}\n",
            file=sys.stderr,
            flush=True,
        )
        log.warning("station not set up: first admin needs loopback or the setup code on the console")
        return code

    def check(self, address: str, code: str | None) -> None:
        if is_loopback(address):
            return
        with self._lock:
            expected = self._code
        if expected is None or code is None or not hmac.compare_digest(expected, code.strip().upper()):
            raise PermissionDenied(
                "first setup from another machine needs the one-time setup code",
                hint="it is printed on the station's console at start; or open the UI on the station itself",
            )

    def consume(self) -> None:
        with self._lock:
            self._code = None


class UrlSigner:
    """Short-lived URLs scoped to one file: ``?exp=<unix time>&sig=<hmac>``."""

    def __init__(self, secret: str, ttl_s: int = IMAGE_URL_TTL_S) -> None:
        self._key = hmac.new(secret.encode(), b"dda-station-image-url", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def _mac(self, resource: str, expires: int) -> str:
        return hmac.new(self._key, f"{resource}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, resource: str, extra: dict[str, str] | None = None) -> str:
        # Expiry rounded up to a minute: the same URL for a while, so browsers can cache the image.
        expires = (int(time.time()) // 60 + 1) * 60 + self.ttl_s
        query = {**(extra or {}), "exp": str(expires), "sig": self._mac(resource, expires)}
        return f"{path}?{urlencode(query)}"

    def verify(self, resource: str, expires: str | None, signature: str | None) -> bool:
        if not expires or not signature or not expires.isdigit() or len(expires) > 12:
            return False
        if int(expires) < time.time():
            return False
        return hmac.compare_digest(self._mac(resource, int(expires)), signature)
