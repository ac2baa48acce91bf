"""The arithmetic a model runs in (`train.precision`) and the memory layout of its convolutions
(`train.channels_last`), for training and inference alike: a model file records both, so a model is evaluated
as it was trained.

bf16 is autocast (torch.autocast): convolutions and matrix products in bf16, the weights, the loss, the
sampler's positions and every output in float32. "auto" takes bf16 where the device computes it natively (a CPU
with AVX-512 BF16 or AMX through oneDNN, a CUDA card that supports it) and fp32 elsewhere: on a CPU without those
instructions bf16 is emulated and slower than fp32. What each buys per model family: docs/recipe.md.
"""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "bf16", "fp32")


def training_device() -> torch.device:
    """The device training uses (engine.train.Distributed): the first CUDA card, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_native(device: torch.device | str) -> bool:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve(setting: str, device: torch.device | str | None = None) -> str:
    """"bf16" or "fp32": the setting, with "auto" decided by the device (the training device when None)."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision is {setting!r}; valid values are {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    return "bf16" if bf16_native(device or training_device()) else "fp32"


def autocast(precision: str, device: torch.device):
    """The context a forward pass runs in: bf16 autocast, or nothing."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()

