"""Where torch runs: ``auto`` (CUDA when this machine's torch sees a GPU, else the CPU), ``cpu`` or
``cuda``. Training, evaluation and the anomaly feature extraction move their model and every
batch to the chosen device; artifacts and checkpoints are always written with CPU tensors, so a
model trained on a GPU loads anywhere. Mixed precision (AMP) is off unless asked for, and only on
CUDA (the parity gate and thresholds are measured in FP32)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from dda.core.errors import InvalidInput

DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """The torch device for ``choice``; ``cuda`` without a usable GPU is a clear error."""
    if choice not in DEVICE_CHOICES:
        raise InvalidInput(f"unknown device {choice!r}", hint=f"choose one of {', '.join(DEVICE_CHOICES)}")
    if choice == "cpu":
        return torch.device("cpu")
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise InvalidInput(
            "device cuda was requested but this machine's torch sees no CUDA GPU "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})",
            hint="use --device auto or cpu, or run on a machine with an NVIDIA GPU, its driver and a "
            "CUDA build of torch (for portal jobs: a GPU worker on the train queue, docs/portal-jobs.md)",
        )
    return torch.device("cuda" if available else "cpu")


def describe_device(device: torch.device) -> str:
    """``cpu`` or ``cuda:0 (GPU name)``: what model metadata and job results record."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for one with neither)."""
    for parameter in module.parameters():
        return parameter.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")


def check_amp(amp: bool, device: torch.device) -> None:
    if amp and device.type != "cuda":
        raise InvalidInput(
            f"mixed precision (amp) needs a CUDA device, and this run uses {device.type}",
            hint="drop amp, or train with --device cuda on a GPU machine",
        )
