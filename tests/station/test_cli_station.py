"""`dda station create-admin` and `trust-key` from the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dda.cli.main import app as cli
from dda.core.settings import Settings
from dda.station.database import open_database
from dda.station.repositories import users as users_repo
from dda.station.services.auth import check_login


def test_create_admin_prompts_and_resets(station_settings: Settings) -> None:
    runner = CliRunner()
    created = runner.invoke(cli, ["station", "create-admin"], input="ops\nfirst-password\nfirst-password\n")
    assert created.exit_code == 0, created.output
    again = runner.invoke(
        cli, ["station", "create-admin", "--username", "ops", "--password", "other-password"]
    )
    assert again.exit_code == 1 and "already exists" in again.output and "fix:" in again.output
    reset = runner.invoke(
        cli, ["station", "create-admin", "--username", "ops", "--password", "new-password", "--reset"]
    )
    assert reset.exit_code == 0, reset.output
    _, sessions = open_database(station_settings.station_database_url)
    with sessions() as session:
        assert users_repo.by_username(session, "ops").is_admin
        check_login(session, "ops", "new-password")


def test_trust_key_refuses_what_is_not_a_public_key(station_settings: Settings, tmp_path: Path) -> None:
    private = tmp_path / "signing-key.pem"
    from dda.core.signing import generate_keypair

    private_pem, public_pem = generate_keypair()
    private.write_bytes(private_pem)
    refused = CliRunner().invoke(cli, ["station", "trust-key", str(private)])
    assert refused.exit_code == 1 and "not a PEM public key" in refused.output
    public = tmp_path / "signer.pub.pem"
    public.write_bytes(public_pem)
    accepted = CliRunner().invoke(cli, ["station", "trust-key", str(public), "--name", "factory"])
    assert accepted.exit_code == 0
    assert (station_settings.station_dir / "trusted_keys" / "factory.pem").read_bytes() == public_pem
