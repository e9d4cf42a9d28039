"""Signed packages of tiny contract models, shared by the packaging and runtime test conftests.

Each conftest builds its own session-wide set (export + sign take seconds) with
:func:`build_contract_packages` and re-exports the :func:`keypair` fixture that signs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dda.core.signing import generate_keypair
from tests.runtime.contract_models import build_test_package

MODEL_TYPES = ("classification", "segmentation", "anomaly")


@pytest.fixture(scope="session")
def keypair() -> tuple[bytes, bytes]:
    """(private, public) PEM of the Ed25519 key that signs the session's packages."""
    return generate_keypair()


def build_contract_packages(root: Path, private_key: bytes, *, jetson: bool = False) -> dict[str, Path]:
    """model type -> package directory for every model type, plus "openvino" (a segmentation
    package for OpenVINO) and, with ``jetson``, "jetson" (an anomaly package for Jetson)."""
    torch.set_num_threads(1)
    built = {mt: build_test_package(root, mt, private_key) for mt in MODEL_TYPES}
    built["openvino"] = build_test_package(root, "segmentation", private_key, target="openvino")
    if jetson:
        built["jetson"] = build_test_package(root, "anomaly", private_key, target="jetson")
    return built
