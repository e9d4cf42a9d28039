"""Packages of tiny contract models, built once per test session (export + sign take seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract_packages import build_contract_packages
from tests.contract_packages import keypair as keypair  # re-exported: a fixture of this folder


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory, keypair: tuple[bytes, bytes]) -> dict[str, Path]:
    """model type (and "openvino") -> package directory."""
    return build_contract_packages(tmp_path_factory.mktemp("runtime-packages"), keypair[0])
