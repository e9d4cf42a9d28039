"""Model packages on the station: verified install (upload, URL, CLI), list, load, unload, delete."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dda.cli.main import app as cli
from dda.core.settings import Settings
from dda.station.paths import StationPaths
from tests.station.http_util import Recorder, recording_server
from tests.station.modelkit import build_signed_archive, signing_keypair


def _upload(client: TestClient, auth: dict[str, str], archive: Path):  # type: ignore[no-untyped-def]
    with archive.open("rb") as handle:
        return client.post(
            "/api/v1/models", files={"file": (archive.name, handle, "application/gzip")}, headers=auth
        )


def test_install_needs_a_trusted_key_then_verifies_and_installs(
    client: TestClient, auth: dict[str, str], tmp_path: Path, station_settings: Settings
) -> None:
    private, public = signing_keypair(tmp_path / "keys")
    archive = build_signed_archive(tmp_path / "build", private)
    refused = _upload(client, auth, archive)
    assert refused.status_code == 503 and "trust-key" in refused.json()["hint"]

    result = CliRunner().invoke(cli, ["station", "trust-key", str(public)])
    assert result.exit_code == 0, result.output
    installed = _upload(client, auth, archive)
    assert installed.status_code == 201, installed.text
    model = installed.json()
    assert (model["name"], model["version"], model["status"], model["loaded"]) == (
        "bright",
        "1",
        "installed",
        False,
    )
    assert model["labels"] == ["normal", "anomaly"] and model["size_bytes"] > 0
    paths = StationPaths.from_settings(station_settings)
    assert (paths.model_repo / "bright" / "1" / "manifest.json").is_file()
    assert list(paths.downloads.iterdir()) == []  # the upload is not kept

    assert client.post("/api/v1/models/bright/1/load", headers=auth).json()["status"] == "loaded"
    assert client.get("/api/v1/models", headers=auth).json()[0]["loaded"] is True
    assert client.post("/api/v1/models/bright/1/unload", headers=auth).json()["loaded"] is False
    assert client.post("/api/v1/models/bright/1/unload", headers=auth).status_code == 404
    assert client.delete("/api/v1/models/bright/1", headers=auth).status_code == 204
    assert client.get("/api/v1/models", headers=auth).json() == []
    assert not (paths.model_repo / "bright").exists()


def test_a_package_signed_by_an_untrusted_key_is_refused(
    client: TestClient, auth: dict[str, str], tmp_path: Path, station_paths: StationPaths
) -> None:
    _, trusted = signing_keypair(tmp_path / "trusted")
    stranger, _ = signing_keypair(tmp_path / "stranger")
    CliRunner().invoke(cli, ["station", "trust-key", str(trusted)])
    refused = _upload(client, auth, build_signed_archive(tmp_path / "build", stranger))
    assert refused.status_code == 422
    assert client.get("/api/v1/models", headers=auth).json() == []
    assert [p for p in station_paths.model_repo.iterdir() if not p.name.startswith(".")] == []


def test_a_tampered_archive_is_refused(client: TestClient, auth: dict[str, str], tmp_path: Path) -> None:
    private, public = signing_keypair(tmp_path / "keys")
    CliRunner().invoke(cli, ["station", "trust-key", str(public)])
    archive = build_signed_archive(tmp_path / "build", private)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    assert _upload(client, auth, archive).status_code == 422


def test_install_from_url_and_from_the_cli(client: TestClient, auth: dict[str, str], tmp_path: Path) -> None:
    private, public = signing_keypair(tmp_path / "keys")
    CliRunner().invoke(cli, ["station", "trust-key", str(public)])
    recorder = Recorder(files={"/pkg.tar.gz": build_signed_archive(tmp_path / "b1", private).read_bytes()})
    with recording_server(recorder) as base:
        refused = client.post("/api/v1/models", json={"url": f"{base}/pkg.tar.gz"}, headers=auth)
        assert refused.status_code == 403 and "internal address" in refused.json()["detail"]
        flag = client.post(
            "/api/v1/models", json={"url": f"{base}/pkg.tar.gz", "allow_private": True}, headers=auth
        )
        assert flag.status_code == 422  # the caller cannot switch SSRF protection off
        allowed = client.put("/api/v1/settings", json={"outbound_allow": ["127.0.0.0/8"]}, headers=auth)
        assert allowed.status_code == 200, allowed.text
        response = client.post("/api/v1/models", json={"url": f"{base}/pkg.tar.gz"}, headers=auth)
        missing = client.post("/api/v1/models", json={"url": f"{base}/nope"}, headers=auth)
    assert response.status_code == 201, response.text
    assert missing.status_code == 503 and "404" in missing.json()["detail"]

    archive = build_signed_archive(tmp_path / "b2", private, version="2")
    result = CliRunner().invoke(cli, ["station", "install-model", str(archive)])
    assert result.exit_code == 0, result.output
    versions = sorted(m["version"] for m in client.get("/api/v1/models", headers=auth).json())
    assert versions == ["1", "2"]
