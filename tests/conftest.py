"""Test-wide fixtures: every test gets its own data dir and fresh settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dda.core.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
COOKIES_DIR = SHARED_DIR / "datasets" / "cookies"


@pytest.fixture(autouse=True)
def isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point DDA at a throw-away data dir so no test touches the user's real data."""
    data_dir = tmp_path_factory.mktemp("dda-data")
    for name in ("DDA_CONFIG_FILE", "DDA_OBJECT_STORE_URL", "DDA_SECRET_KEY", "DDA_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DDA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DDA_ENV", "test")
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture
def cookies_dir() -> Path:
    """The real cookie dataset; tests using it skip where ../shared is absent."""
    if not (COOKIES_DIR / "dataset-files" / "manifests").is_dir():
        pytest.skip(f"real cookie dataset not found at {COOKIES_DIR} (../shared is absent)")
    return COOKIES_DIR
