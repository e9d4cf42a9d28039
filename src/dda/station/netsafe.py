"""Outbound HTTP that cannot be turned against the station's own network (SSRF).

A target is resolved once; every address it resolves to must be public, unless the host or every
internal address is on the station's one outbound allow-list (host names and CIDRs that only an
admin keeps, in the station's settings: ``PUT /api/v1/settings``). Model downloads and webhook
outputs use the same list; nothing a caller sends (a request, a plugin config) can widen it.
The request then goes to the checked address (Host header and TLS SNI keep the name), so DNS
cannot answer differently between the check and the connection. Redirects are followed by hand,
each hop checked the same way.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from dda.core.errors import InvalidInput, PermissionDenied, Unavailable

MAX_REDIRECTS = 3
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_LIST_FIX = (
    "use a public host; an admin can put a host or network of your own on the station's outbound "
    "allow-list (PUT /api/v1/settings {\"outbound_allow\": [\"10.0.0.5\", \"10.20.0.0/16\"]})"
)


class OutboundAllowList:
    """The station's allow-list of local hosts/CIDRs, shared by every outbound caller. Read on
    each request (an admin's change applies at once), written only by the admin settings API."""

    def __init__(self, entries: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: tuple[str, ...] = tuple(entries)

    def get(self) -> tuple[str, ...]:
        with self._lock:
            return self._entries

    def set(self, entries: Sequence[str]) -> None:
        with self._lock:
            self._entries = tuple(entries)


@dataclass(frozen=True)
class Target:
    url: str  # the URL as given
    host: str
    address: IPAddress  # the checked address the request goes to
    pinned_url: str  # url with the host replaced by the address


def is_internal(address: IPAddress) -> bool:
    """Loopback, link-local (cloud metadata), private, shared (CGNAT), multicast, reserved,
    unspecified, or any other range IANA marks as not globally reachable."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        not address.is_global
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unavailable(f"cannot resolve host {host!r}: {exc}", hint="check the URL's host name") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def allowed_internal(host: str, addresses: Sequence[IPAddress], allow: Sequence[str]) -> bool:
    """Whether internal ``addresses`` of ``host`` are on the allow-list (a host name or CIDRs)."""
    hosts = {entry.strip().lower().rstrip(".") for entry in allow}
    if host.lower().rstrip(".") in hosts:
        return True
    networks = []
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # a host name
    internal = [a for a in addresses if is_internal(a)]
    return bool(networks) and all(any(a in n for n in networks) for a in internal)


def check_target(url: str, *, allow: Sequence[str] = ()) -> Target:
    """Validate an http(s) URL and the addresses its host resolves to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http(s) URL", hint="use a URL like https://host/path")
    if parts.username or parts.password:
        raise InvalidInput("credentials in the URL are not accepted", hint="use the plugin's secret instead")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = _resolve(parts.hostname, port)
    internal = [str(a) for a in addresses if is_internal(a)]
    if internal and not allowed_internal(parts.hostname, addresses, allow):
        raise PermissionDenied(
            f"{parts.hostname} resolves to an internal address ({', '.join(internal)}); "
            "requests to loopback, link-local, private and multicast networks are refused",
            hint=ALLOW_LIST_FIX,
        )
    address = addresses[0]
    host_text = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host_text}:{parts.port}" if parts.port else host_text
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return Target(url=url, host=parts.hostname, address=address, pinned_url=pinned)


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]


@contextmanager
def safe_stream(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    allow: Sequence[str] = (),
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> Iterator[httpx.Response]:
    """Send a request to a checked address, following up to 3 redirects, each checked again."""
    for _ in range(MAX_REDIRECTS + 1):
        target = check_target(url, allow=allow)
        request = client.build_request(
            method,
            target.pinned_url,
            headers={**(headers or {}), "Host": _host_header(url)},
            content=content,
            extensions={"sni_hostname": target.host},
        )
        response = client.send(request, stream=True, follow_redirects=False)
        if response.is_redirect and "location" in response.headers:
            location = str(httpx.URL(url).join(response.headers["location"]))
            response.close()
            url, method, content = (
                location,
                "GET" if response.status_code in (301, 302, 303) else method,
                (None if response.status_code in (301, 302, 303) else content),
            )
            continue
        try:
            yield response
        finally:
            response.close()
        return
    raise InvalidInput(f"more than {MAX_REDIRECTS} redirects from {url}", hint="use the final URL directly")
