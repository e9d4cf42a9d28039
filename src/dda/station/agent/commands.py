"""Run the portal's remote operations on this station — only what this station's own settings
allow (a configuration document is checked by the station's own schemas and rolled back when
it does not run), only with a valid signature from a key the station trusts, only once, only before expiry,
and only on files under results/ and logs/ of its data folder."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from dda.core.errors import DDAError
from dda.core.logging import get_logger
from dda.core.settings import RemoteOperationSettings
from dda.fleet_protocol import CommandResult, SignedCommand, command_bytes
from dda.station.agent.client import AgentClient
from dda.station.agent.config_apply import ConfigApplier, ConfigFailed, ConfigRejected
from dda.station.agent.telemetry import log_tail
from dda.station.paths import StationPaths

log = get_logger(__name__)
BROWSABLE = ("results", "logs")
MAX_FETCH_BYTES = 32 * 1024 * 1024
MAX_LISTING = 500


class Refused(Exception):
    """Why a command was not run (reported to the portal)."""


class CommandRunner:
    def __init__(
        self,
        paths: StationPaths,
        client: AgentClient,
        device_id: str,
        folder: Path,
        settings: RemoteOperationSettings,
        configure: ConfigApplier | None = None,
    ) -> None:
        self.configure = configure
        self.paths = paths
        self.client = client
        self.device_id = device_id
        self.settings = settings
        self.seen_path = folder / "commands-seen.json"

    # Checks ------------------------------------------------------------------------------------
    def verify(self, signed: SignedCommand) -> None:
        command = signed.command
        if command.device_id != self.device_id:
            raise Refused("the command is for another device")
        if command.expires_at <= datetime.now(UTC):
            raise Refused("the command has expired")
        try:
            signature = base64.b64decode(signed.signature, validate=True)
        except ValueError as exc:
            raise Refused("the command's signature is malformed") from exc
        payload = command_bytes(command)
        for pem in sorted(self.paths.trusted_keys.glob("*.pem")):
            key = load_pem_public_key(pem.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                try:
                    key.verify(signature, payload)
                    break
                except InvalidSignature:
                    continue
        else:
            raise Refused("the command is not signed by a key this station trusts")
        if command.id in self._seen():
            raise Refused("the command was already run (replay)")

    def _seen(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.seen_path.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _remember(self, command_id: str, expires_at: datetime) -> None:
        now = datetime.now(UTC).isoformat()
        seen = {k: v for k, v in self._seen().items() if v > now}  # forget what has expired anyway
        seen[command_id] = expires_at.astimezone(UTC).isoformat()
        tmp = self.seen_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seen))
        os.replace(tmp, self.seen_path)

    # Running -----------------------------------------------------------------------------------
    def handle(self, signed: SignedCommand) -> CommandResult:
        try:
            self.verify(signed)
        except Refused as exc:
            log.warning("remote command refused", kind=signed.command.kind, reason=str(exc))
            return self._report(signed, CommandResult(ok=False, message=f"refused: {exc}"))
        self._remember(signed.command.id, signed.command.expires_at)
        try:
            result = self._run(signed)
        except Refused as exc:
            result = CommandResult(ok=False, message=f"refused: {exc}")
        except DDAError as exc:
            result = CommandResult(ok=False, message=exc.message)
        return self._report(signed, result)

    def _report(self, signed: SignedCommand, result: CommandResult) -> CommandResult:
        try:
            self.client.call(
                "POST",
                f"/api/v1/agent/commands/{signed.command.id}/result",
                result.model_dump_json().encode(),
            )
        except DDAError as exc:
            log.warning("could not report a command's outcome", error=exc.message)
        return result

    def _run(self, signed: SignedCommand) -> CommandResult:
        command = signed.command
        kind, args = command.kind, command.args
        if kind == "logs":
            self._allowed(self.settings.allow_logs, "allow_logs")
            return CommandResult(
                ok=True, message="log tail", data={"lines": log_tail(int(args.get("lines", 200)))}
            )
        if kind == "list_files":
            self._allowed(self.settings.allow_files, "allow_files")
            return CommandResult(
                ok=True, message="listing", data={"entries": self._listing(self._inside(args))}
            )
        if kind == "fetch_file":
            self._allowed(self.settings.allow_files, "allow_files")
            return self._fetch(command.id, self._inside(args))
        if kind == "update_config":
            return self._update_config(args)
        if kind == "restart":
            self._allowed(self.settings.allow_restart, "allow_restart")
            threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM)).start()
            return CommandResult(ok=True, message="restarting: the service manager starts the station again")
        if kind == "reboot":
            self._allowed(self.settings.allow_reboot, "allow_reboot")
            subprocess.Popen(["systemctl", "reboot"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return CommandResult(ok=True, message="rebooting")
        raise Refused(f"unknown operation {kind!r}")

    def _update_config(self, args: dict[str, Any]) -> CommandResult:
        if self.configure is None:
            raise Refused("this agent cannot apply configurations")
        document = args.get("config")
        if not isinstance(document, dict):
            raise Refused("the command carries no configuration document")
        version = str(document.get("version", "?"))
        try:
            self.configure.apply(document, version=version)
        except (ConfigRejected, ConfigFailed) as exc:
            return CommandResult(ok=False, message=str(exc)[:2000], data={"version": version})
        return CommandResult(ok=True, message=f"configuration {version} applied", data={"version": version})

    @staticmethod
    def _allowed(flag: bool, name: str) -> None:
        if not flag:
            raise Refused(f"this station does not allow it (settings station.remote.{name})")

    def _inside(self, args: dict[str, Any]) -> Path:
        """The path asked for, if it lies under results/ or logs/ of the data folder, else Refused."""
        relative = str(args.get("path", "")).strip().lstrip("/") or "results"
        root = self.paths.root.resolve()
        target = (root / relative).resolve()
        allowed = [(root / name).resolve() for name in BROWSABLE]
        if not any(target == base or base in target.parents for base in allowed):
            raise Refused("only files under results/ and logs/ of the station's data folder can be read")
        return target

    def _listing(self, folder: Path) -> list[dict[str, Any]]:
        if not folder.is_dir():
            raise Refused("no such folder")
        root = self.paths.root.resolve()
        entries = []
        for child in sorted(folder.iterdir())[:MAX_LISTING]:
            if child.is_symlink():
                continue
            stat = child.stat()
            entries.append(
                {
                    "path": child.relative_to(root).as_posix(),
                    "dir": child.is_dir(),
                    "size": stat.st_size,
                    "modified": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                }
            )
        return entries

    def _fetch(self, command_id: str, path: Path) -> CommandResult:
        if not path.is_file() or path.is_symlink():
            raise Refused("no such file")
        if path.stat().st_size > MAX_FETCH_BYTES:
            raise Refused(f"the file is larger than {MAX_FETCH_BYTES // 2**20} MiB")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        name = "".join(c if c.isalnum() or c in "._-" else "_" for c in path.name)[:120] or "file"
        self.client.call("PUT", f"/api/v1/agent/commands/{command_id}/file?name={name}&sha256={digest}", data)
        return CommandResult(ok=True, message=f"sent {path.name}", data={"name": name, "size": len(data)})
