"""The station <-> portal wire protocol: message schemas and request signing. Both planes import
this module; neither imports the other.

The station always calls the portal (no inbound port on the device). Every device request after
enrollment is signed with the device's Ed25519 key over

    METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n sha256(body)

and carries ``X-DDA-Device``, ``X-DDA-Timestamp`` (unix seconds), ``X-DDA-Nonce`` (random, used
once) and ``X-DDA-Signature`` (base64). The portal refuses a stale timestamp, a nonce seen before
(replay), a signature that does not verify (forgery) and a revoked device.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import BaseModel, ConfigDict, Field, model_validator

HEADER_DEVICE = "X-DDA-Device"
HEADER_TIMESTAMP = "X-DDA-Timestamp"
HEADER_NONCE = "X-DDA-Nonce"
HEADER_SIGNATURE = "X-DDA-Signature"
SIGNED_HEADERS = (HEADER_DEVICE, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
MAX_CLOCK_SKEW_S = 300
PROTOCOL_VERSION = 1

DeploymentPhase = Literal[
    "queued", "downloading", "installing", "checking", "healthy", "failed", "rolled_back"
]


# Signing ------------------------------------------------------------------------------------
def canonical(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path_and_query, timestamp, nonce, digest]).encode()


def sign_request(
    key: Ed25519PrivateKey, device_id: str, method: str, path_and_query: str, body: bytes
) -> dict[str, str]:
    """The headers that authenticate one request of a device."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    signature = key.sign(canonical(method, path_and_query, timestamp, nonce, body))
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


class BadSignature(Exception):
    """Why a signed request was refused (kept vague towards the caller)."""


def verify_request(
    public_key_pem: str, headers: dict[str, str], method: str, path_and_query: str, body: bytes, now: float
) -> tuple[str, int]:
    """Check the signature and clock; return (nonce, timestamp) for the caller's replay check."""
    try:
        timestamp = int(headers[HEADER_TIMESTAMP])
        nonce = headers[HEADER_NONCE]
        signature = base64.b64decode(headers[HEADER_SIGNATURE], validate=True)
    except (KeyError, ValueError) as exc:
        raise BadSignature("missing or malformed signature headers") from exc
    if not (16 <= len(nonce) <= 64) or not all(c in "0123456789abcdef" for c in nonce):
        raise BadSignature("malformed nonce")
    if abs(now - timestamp) > MAX_CLOCK_SKEW_S:
        raise BadSignature("the request time is too far from the portal's clock")
    key = load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise BadSignature("the device key is not Ed25519")
    try:
        key.verify(signature, canonical(method, path_and_query, str(timestamp), nonce, body))
    except InvalidSignature as exc:
        raise BadSignature("the signature does not verify") from exc
    return nonce, timestamp


# Messages -----------------------------------------------------------------------------------
class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # newer peers may send more; never fail on it


class DeviceFacts(_Message):
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=128)
    arch: str = Field(default="", max_length=32)
    cpu_count: int = Field(default=0, ge=0, le=4096)
    memory_mb: int = Field(default=0, ge=0)
    station_version: str = Field(default="", max_length=64)
    gpu: str = Field(default="", max_length=128)


class EnrollRequest(_Message):
    token: str = Field(min_length=10, max_length=200)
    public_key_pem: str = Field(min_length=50, max_length=1000)
    name: str | None = Field(default=None, max_length=63)
    facts: DeviceFacts = Field(default_factory=DeviceFacts)
    # Proof that the caller holds the private key: signature over "enroll\n" + token.
    proof: str = Field(min_length=10, max_length=200)


class EnrollResponse(_Message):
    device_id: str
    usecase_id: str
    usecase_name: str
    name: str
    package_signing_keys: list[str]  # PEM public keys the station must trust
    heartbeat_interval_s: int
    protocol_version: int = PROTOCOL_VERSION


class InstalledModel(_Message):
    name: str = Field(max_length=128)
    version: str = Field(max_length=64)
    loaded: bool = False


class WorkflowState(_Message):
    name: str = Field(max_length=128)
    state: str = Field(max_length=32)
    model: str = Field(default="", max_length=200)


class Heartbeat(_Message):
    station_version: str = Field(default="", max_length=64)
    models: list[InstalledModel] = Field(default_factory=list, max_length=200)
    workflows: list[WorkflowState] = Field(default_factory=list, max_length=200)
    cameras: int = Field(default=0, ge=0, le=10_000)
    cpu_pct: float = Field(default=0.0, ge=0, le=100_000)
    memory_pct: float = Field(default=0.0, ge=0, le=100)
    disk_pct: float = Field(default=0.0, ge=0, le=100)
    throughput_per_min: float = Field(default=0.0, ge=0)
    anomaly_rate: float = Field(default=0.0, ge=0, le=1)
    p99_latency_ms: float = Field(default=0.0, ge=0)
    last_error: str | None = Field(default=None, max_length=2000)
    desired_etag: str | None = Field(default=None, max_length=64)  # what the station has applied
    log_tail: list[str] | None = Field(default=None, max_length=500)  # sent when the portal asked


# Station configuration ---------------------------------------------------------------------
class ConfigSource(BaseModel):
    """An image source as the station's own API takes it (ImageSourceIn): its plugin config and
    camera settings are checked by the station against its plugin schemas when it applies them."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    config: dict[str, Any]
    camera: dict[str, Any] = Field(default_factory=dict)


class ConfigWorkflow(BaseModel):
    """A workflow as the station's own API takes it (WorkflowIn), naming its source instead of a
    station-local id; plus its decision threshold and whether it should run."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1, max_length=100)
    model_name: str = Field(min_length=1, max_length=128)
    model_version: str = Field(min_length=1, max_length=64)
    triggers: list[dict[str, Any]] = Field(default_factory=list, max_length=8)
    outputs: list[dict[str, Any]] = Field(default_factory=list, max_length=16)
    storage: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(default=None, ge=0)
    running: bool = True


class StationConfig(BaseModel):
    """A versioned station configuration document (what a configuration deployment and the
    "update station configuration" operation carry). It manages the sources and workflows it
    names; the station's other sources and workflows are left alone. The portal checks its
    shape; the station checks every plugin config with its own schemas before applying it,
    applies it in one transaction, and puts the previous configuration back when a workflow
    does not run on it."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
    sources: list[ConfigSource] = Field(default_factory=list, max_length=64)
    workflows: list[ConfigWorkflow] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _references(self) -> StationConfig:
        """Names unique; every workflow's source is in the document."""
        for kind, names in (
            ("source", [s.name for s in self.sources]),
            ("workflow", [w.name for w in self.workflows]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(duplicates)}")
        sources = {s.name for s in self.sources}
        for workflow in self.workflows:
            if workflow.source not in sources:
                raise ValueError(
                    f"workflow {workflow.name!r} uses source {workflow.source!r}, not in the document"
                )
        return self


CommandKind = Literal["logs", "restart", "reboot", "list_files", "fetch_file", "update_config"]


class DeviceCommand(_Message):
    """A remote operation for one device, signed by the portal with the use case's package-signing
    key (which the station trusts), valid once and only until ``expires_at``."""

    id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    kind: CommandKind
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: datetime
    expires_at: datetime


class SignedCommand(_Message):
    command: DeviceCommand
    signature: str = Field(max_length=200)  # base64 Ed25519 over command_bytes(command)


def command_bytes(command: DeviceCommand) -> bytes:
    return json.dumps(command.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()


class CommandResult(_Message):
    ok: bool
    message: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


class HeartbeatResponse(_Message):
    desired_etag: str
    send_logs: bool = False
    server_time: datetime
    commands: list[SignedCommand] = Field(default_factory=list)


class DesiredModel(_Message):
    model_name: str
    model_version: str
    package_sha256: str
    package_size: int
    download_path: str  # relative to the portal URL; the agent resumes with Range requests


class DesiredState(_Message):
    etag: str
    deployment_id: str | None = None
    models: list[DesiredModel] = Field(default_factory=list)
    config: dict[str, Any] | None = None


class DeploymentReport(_Message):
    deployment_id: str = Field(max_length=64)
    phase: DeploymentPhase
    progress_pct: float = Field(default=0.0, ge=0, le=100)
    reason: str | None = Field(default=None, max_length=2000)
    installed: list[InstalledModel] = Field(default_factory=list, max_length=50)


class ResultFile(_Message):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ResultRecord(_Message):
    """One uploaded result, sent after its files (PUT /api/v1/agent/results/{capture}/{name}?at=...)."""

    capture_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,64}$")
    captured_at: datetime
    verdict: str = Field(default="", max_length=16)
    label: str = Field(default="", max_length=64)
    anomaly_score: float = 0.0
    workflow: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=200)
    review: Literal["normal", "anomaly"] | None = None  # the operator's verdict, when reviewed
    files: list[ResultFile] = Field(default_factory=list, max_length=10)
