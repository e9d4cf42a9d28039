"""The agent refuses every tampered package the portal could hand it (a compromised portal or a
man in the middle): unsigned, another key, a modified file, an extra file, a traversal path, a
missing file. The station keeps its model; the portal is told why."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dda.core.safe_archive import create_tar_gz
from dda.core.settings import Settings
from dda.core.signing import generate_keypair, sign_directory
from dda.packaging.install import archive_package
from dda.packaging.manifest import read_manifest
from dda.station.agent.identity import enroll
from dda.station.agent.worker import Agent
from dda.station.context import build_station
from tests.fleet.processes import PortalProcess, resigned_copy, until

pytestmark = pytest.mark.slow


def _unsigned(package: Path) -> None:
    for name in ("SHA256SUMS.json", "SHA256SUMS.json.sig"):
        (package / name).unlink()


def _other_key(package: Path) -> None:
    _unsigned(package)
    sign_directory(package, generate_keypair()[0], exclude=read_manifest(package).generated_at_install)


def _modified(package: Path) -> None:
    model = next(package.rglob("model.onnx"))
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF
    model.write_bytes(bytes(data))


def _extra(package: Path) -> None:
    (package / "cookies" / "backdoor.py").write_text("import os\n")


def _missing(package: Path) -> None:
    next(package.rglob("config.pbtxt")).unlink()


TAMPERS: dict[str, Callable[[Path], None]] = {
    "unsigned": _unsigned,
    "wrong key": _other_key,
    "modified file": _modified,
    "extra file": _extra,
    "missing file": _missing,
}


def _traversal_archive(package: Path, target: Path) -> Path:
    archive = archive_package(package, target)
    buffer = io.BytesIO()
    with tarfile.open(archive, "r:gz") as src, tarfile.open(fileobj=buffer, mode="w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        evil = tarfile.TarInfo("../../escaped.txt")
        payload = b"owned"
        evil.size = len(payload)
        dst.addfile(evil, io.BytesIO(payload))
    archive.write_bytes(buffer.getvalue())
    return archive


def test_agent_refuses_the_tamper_list(portal_process: PortalProcess, tmp_path: Path) -> None:
    portal = portal_process
    good = portal.package(tmp_path, "1.0.0")
    station = build_station(Settings(data_dir=tmp_path / "st", env="test"))
    token = portal.api("POST", "/devices/enrollment-tokens", json={"device_name": "victim", "group": "t"})
    enroll(station.paths, portal.url, token["token"])
    agent = Agent.for_station(station, interval_s=0.1)
    assert agent is not None
    agent.setup()
    try:
        portal.api(
            "POST",
            "/deployments",
            json={"name": "good", "target": {"kind": "device", "value": "victim"}, "packages": [good]},
        )
        agent.tick()
        assert (station.paths.model_repo / "cookies" / "1.0.0").is_dir()

        source = tmp_path / "build-1.0.0" / "pkg-classification-x86_64-cpu"
        pem = portal.signing_key_pem()
        cases = [*TAMPERS.items(), ("traversal", None)]
        for index, (kind, tamper) in enumerate(cases):
            version = f"9.{index}.0"
            work = tmp_path / f"tamper-{index}"
            package = resigned_copy(source, work / "pkg", version, pem)  # valid, then tampered with
            if kind in ("unsigned", "wrong key", "modified file", "extra file", "missing file"):
                assert tamper is not None
                tamper(package)
                archive = create_tar_gz(package, work / "p.tar.gz")
            else:
                archive = _traversal_archive(package, work / "p.tar.gz")
            key = portal.upload(archive, f"packages/tampered-{index}.tar.gz")
            deployment = portal.api(
                "POST",
                "/deployments",
                json={
                    "name": f"t{index}",
                    "target": {"kind": "device", "value": "victim"},
                    "packages": [key],
                },
            )
            agent.tick()
            row = until(
                lambda d=deployment: portal.api("GET", f"/deployments/{d['id']}")["devices"][0], 10, kind
            )
            assert row["phase"] == "failed", (kind, row)
            assert not (station.paths.model_repo / "cookies" / version).exists(), kind
            assert not (tmp_path / "escaped.txt").exists()
        assert sorted(p.name for p in (station.paths.model_repo / "cookies").iterdir()) == ["1.0.0"]
    finally:
        agent.teardown()
        station.engine.dispose()
