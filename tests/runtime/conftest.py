"""Packages of tiny contract models, built once per test session (export + sign take seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dda.core.signing import generate_keypair
from tests.runtime.contract_models import build_test_package


@pytest.fixture(scope="session")
def keypair() -> tuple[bytes, bytes]:
    return generate_keypair()


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory, keypair: tuple[bytes, bytes]) -> dict[str, Path]:
    """model type (and "openvino") -> package directory."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runtime-packages")
    built = {
        mt: build_test_package(root, mt, keypair[0]) for mt in ("classification", "segmentation", "anomaly")
    }
    built["openvino"] = build_test_package(root, "segmentation", keypair[0], target="openvino")
    return built
