"""Where and how a model computes, for training and inference alike: the device (`train.device`), the arithmetic
(`train.precision`) and the memory layout of its convolutions (`train.channels_last`). A model file records the
arithmetic and the layout, so a model is evaluated as it was trained; the device is the machine's.

bf16 is autocast (torch.autocast): convolutions and matrix products in bf16, the weights, the loss, the
sampler's positions and every output in float32. "auto" takes bf16 where the device computes it natively (a CPU
with AVX-512 BF16 or AMX through oneDNN, a CUDA card that supports it) and fp32 elsewhere: on a CPU without those
instructions bf16 is emulated and slower than fp32; and fp32 for a model whose class says bf16 does not pay
(`bf16_pays`, models/base.py: SVRNN). What each buys per model family: docs/recipe.md.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from typing import get_args

import torch

from core.config import InputError
from core.spec import Device, Precision

PRECISIONS, DEVICES = get_args(Precision), get_args(Device)


def device(setting: str = "auto") -> torch.device:
    """The device of `train.device`: "auto" takes the first CUDA card when one is visible, else the CPU (a
    torchrun process takes its own card: engine.train.Distributed)."""
    if setting not in DEVICES:
        raise ValueError(f"device is {setting!r}; valid values are {', '.join(DEVICES)}")
    if setting == "cuda" and not torch.cuda.is_available():
        raise InputError("train.device is cuda but no CUDA device is visible; set train.device: auto or cpu")
    return torch.device("cuda" if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()) else "cpu")


def bf16_native(on: torch.device | str) -> bool:
    if torch.device(on).type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def resolve(setting: str, on: torch.device | str | None = None) -> str:
    """"bf16" or "fp32": the setting, with "auto" decided by the device `on` (the "auto" device when None)."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision is {setting!r}; valid values are {', '.join(PRECISIONS)}")
    if setting != "auto":
        return setting
    return "bf16" if bf16_native(on or device()) else "fp32"


def autocast(precision: str, on: torch.device):
    """The context a forward pass runs in: bf16 autocast, or nothing (on the `meta` device, which only traces
    shapes and devices: tests/test_devices.py)."""
    if precision == "bf16" and on.type != "meta":
        return torch.autocast(on.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


# glibc's mallopt parameters, and the largest mmap threshold it accepts on 64-bit systems (32 MiB)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX = -1, -3, 32 << 20


def reuse_freed_memory() -> bool:
    """Keep the memory a step frees for the next step to reuse. glibc's malloc by default hands freed blocks
    back to the system (its heap's free top beyond twice its mmap threshold, blocks over that threshold
    directly), and a step's tensors of 1-9 MB come back page by page, a page fault each: up to a third of a
    training step here (docs/recipe.md). Values do not change. False where the C library is not glibc (nothing
    done)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and mallopt(M_TRIM_THRESHOLD, 1 << 30))


def configure(on: torch.device, deterministic: bool) -> None:
    """The backend settings of a run on `on` (`train.deterministic`). On CUDA, fast by default: cuDNN picks the
    fastest convolution per shape (cudnn.benchmark) and float32 matrix products use TF32; deterministic: neither,
    and PyTorch's deterministic algorithms, with a warning where an op has none (grid_sample's backward, the
    deformable models' sampler on CUDA: a deterministic CUDA run of those is not promised). On the CPU every
    kernel the suite uses is deterministic already: only the freed memory is kept for reuse."""
    if on.type != "cuda":
        reuse_freed_memory()
        return
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = not deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)

