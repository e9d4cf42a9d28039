"""Package downloads that survive cut connections: resume with HTTP Range, check size and sha256."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dda.core.errors import InvalidInput, Unavailable
from dda.core.signing import file_sha256
from dda.fleet_protocol import DesiredModel
from dda.station.agent.client import AgentClient

CHUNK = 1 << 16
ATTEMPTS = 8


def download(
    client: AgentClient, model: DesiredModel, folder: Path, progress: Callable[[float], None] | None = None
) -> Path:
    """The verified archive at ``folder/<sha256>.tar.gz`` (kept: a re-download is never needed)."""
    if len(model.package_sha256) != 64 or not all(c in "0123456789abcdef" for c in model.package_sha256):
        raise InvalidInput("the portal sent a malformed package hash", hint="report this to the portal admin")
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f"{model.package_sha256}.tar.gz"
    if done.is_file():
        return done
    part = folder / f"{model.package_sha256}.part"
    last_error: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            _fetch_rest(client, model, part, progress)
            break
        except Unavailable as exc:  # cut, reset or stalled: resume from what arrived
            last_error = exc
    else:
        raise Unavailable(
            f"downloading {model.model_name} {model.model_version} kept failing: {last_error}",
            hint="the agent retries on its next poll",
        )
    if part.stat().st_size != model.package_size or file_sha256(part) != model.package_sha256:
        part.unlink(missing_ok=True)
        raise InvalidInput(
            f"the package {model.model_name} {model.model_version} arrived damaged (size or sha256)",
            hint="the agent downloads it again on its next poll",
        )
    part.rename(done)
    return done


def _fetch_rest(
    client: AgentClient, model: DesiredModel, part: Path, progress: Callable[[float], None] | None
) -> None:
    have = part.stat().st_size if part.is_file() else 0
    if have > model.package_size:
        part.unlink()
        have = 0
    if have == model.package_size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with client.stream(model.download_path, headers) as response, part.open("ab" if have else "wb") as out:
        if have and response.status_code != 206:  # the server ignored the range: start over
            out.truncate(0)
            have = 0
        received = have
        for chunk in response.iter_bytes(CHUNK):
            out.write(chunk)
            received += len(chunk)
            if received > model.package_size:
                raise InvalidInput(
                    "the package is larger than announced", hint="report this to the portal admin"
                )
            if progress is not None and model.package_size:
                progress(100.0 * received / model.package_size)
    if part.stat().st_size < model.package_size:
        raise Unavailable("the download ended early", hint="resuming")
