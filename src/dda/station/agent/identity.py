"""The station's fleet identity: device id, portal URL, and its Ed25519 key (never leaves the device)."""

from __future__ import annotations

import base64
import json
import os
import platform
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import dda
from dda.core.errors import InvalidInput, NotFound, Unavailable
from dda.fleet_protocol import DeviceFacts, EnrollRequest, EnrollResponse
from dda.station.paths import StationPaths

ENROLL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class FleetIdentity:
    device_id: str
    name: str
    portal_url: str
    usecase_id: str
    usecase_name: str
    heartbeat_interval_s: int


def fleet_dir(paths: StationPaths) -> Path:
    return paths.root / "fleet"


def _identity_file(paths: StationPaths) -> Path:
    return fleet_dir(paths) / "device.json"


def _key_file(paths: StationPaths) -> Path:
    return fleet_dir(paths) / "device-key.pem"


def load_identity(paths: StationPaths) -> FleetIdentity | None:
    path = _identity_file(paths)
    if not path.is_file():
        return None
    return FleetIdentity(**json.loads(path.read_text()))


def load_key(paths: StationPaths) -> Ed25519PrivateKey:
    path = _key_file(paths)
    if not path.is_file():
        raise NotFound(
            "this station has no device key", hint="enroll it: `dda station enroll PORTAL_URL TOKEN`"
        )
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("the device key is not Ed25519", hint="enroll the station again")
    return key


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def device_facts() -> DeviceFacts:
    gpu = ""
    try:
        import onnxruntime

        gpu = "cuda" if "CUDAExecutionProvider" in onnxruntime.get_available_providers() else ""
    except ImportError:
        pass
    return DeviceFacts(
        hostname=socket.gethostname()[:255],
        os=f"{platform.system()} {platform.release()}"[:128],
        arch=platform.machine()[:32],
        cpu_count=os.cpu_count() or 0,
        memory_mb=int(psutil.virtual_memory().total // 2**20),
        station_version=dda.__version__,
        gpu=gpu,
    )


def enroll(paths: StationPaths, portal_url: str, token: str, name: str | None = None) -> FleetIdentity:
    """Make a device key, present it with the one-time token, trust the use case's signing keys."""
    from dda.station.services.models import trust_key_pem

    if not portal_url.startswith(("http://", "https://")):
        raise InvalidInput(f"{portal_url!r} is not an http(s) URL", hint="e.g. https://portal.example:8000")
    key = Ed25519PrivateKey.generate()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    proof = base64.b64encode(key.sign(b"enroll\n" + token.encode())).decode()
    request = EnrollRequest(
        token=token, public_key_pem=public_pem, name=name, facts=device_facts(), proof=proof
    )
    try:
        response = httpx.post(
            portal_url.rstrip("/") + "/api/v1/agent/enroll",
            content=request.model_dump_json(),
            headers={"content-type": "application/json"},
            timeout=ENROLL_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"cannot reach the portal at {portal_url}: {type(exc).__name__}",
            hint="check the URL and the network",
        ) from exc
    if response.status_code != 200:
        detail = (
            response.json().get("detail", "") if "json" in response.headers.get("content-type", "") else ""
        )
        raise InvalidInput(
            f"the portal refused the enrollment (HTTP {response.status_code}): {detail}",
            hint="ask for a new enrollment token",
        )
    answer = EnrollResponse.model_validate_json(response.content)
    _write_private(
        _key_file(paths),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    for index, pem in enumerate(answer.package_signing_keys):
        trust_key_pem(paths, pem.encode(), f"usecase-{answer.usecase_id}-{index}")
    identity = FleetIdentity(
        device_id=answer.device_id,
        name=answer.name,
        portal_url=portal_url.rstrip("/"),
        usecase_id=answer.usecase_id,
        usecase_name=answer.usecase_name,
        heartbeat_interval_s=answer.heartbeat_interval_s,
    )
    _write_private(_identity_file(paths), json.dumps(asdict(identity), indent=2).encode())
    return identity
