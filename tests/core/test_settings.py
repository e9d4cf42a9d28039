from __future__ import annotations

from pathlib import Path

import pytest

from dda.core.errors import InvalidInput
from dda.core.settings import DEFAULT_SECRET_KEY, Settings, get_settings


def test_env_prefix_and_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDA_STATION__PORT", "5123")
    monkeypatch.setenv("DDA_S3__ENDPOINT_URL", "http://127.0.0.1:9000")
    settings = Settings()
    assert settings.station.port == 5123
    assert settings.s3.endpoint_url == "http://127.0.0.1:9000"


def test_defaults_live_under_the_data_dir(isolated_settings: Path) -> None:
    settings = get_settings()
    assert settings.data_dir == isolated_settings
    assert settings.resolved_object_store_url == (isolated_settings / "objects").as_uri()
    assert settings.station_database_url.endswith("station/station.db")


def test_getter_is_cached() -> None:
    assert get_settings() is get_settings()


def test_toml_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "dda.toml"
    config.write_text('log_level = "DEBUG"\n[station]\nport = 6001\n')
    monkeypatch.setenv("DDA_CONFIG_FILE", str(config))
    settings = Settings()
    assert settings.log_level == "DEBUG"
    assert settings.station.port == 6001


def test_env_beats_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "dda.toml"
    config.write_text("[station]\nport = 6001\n")
    monkeypatch.setenv("DDA_CONFIG_FILE", str(config))
    monkeypatch.setenv("DDA_STATION__PORT", "6002")
    assert Settings().station.port == 6002


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DDA_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(InvalidInput, match="DDA_CONFIG_FILE"):
        Settings()


@pytest.mark.parametrize("secret", ["", "   ", DEFAULT_SECRET_KEY, "x" * 31, "short-but-not-empty"])
def test_production_refuses_default_or_empty_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("DDA_ENV", "production")
    monkeypatch.setenv("DDA_SECRET_KEY", secret)
    with pytest.raises(InvalidInput, match="DDA_SECRET_KEY"):
        Settings()


def test_production_accepts_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDA_ENV", "production")
    monkeypatch.setenv("DDA_SECRET_KEY", "x" * 48)
    assert Settings().env == "production"


def test_development_allows_default_secret() -> None:
    assert Settings(env="development").secret_key.get_secret_value() == DEFAULT_SECRET_KEY
