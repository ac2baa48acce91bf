"""The suite's U-Net (models/unet.py, the paper's Table 1 network) as a plain denoiser: the backbone of the
training-without-clean-data study (N2C, N2N, N2V share it, as the HQ-SSL paper's baselines share one U-Net), and
the plain CNN any study can set beside a specialised network.

The output is a start plus the U-Net's correction (the head starts near zero), so that a short CPU run spends its
steps on detail: predicting the frame directly from zero stayed below the noisy input at low noise after the
default 300 steps (Noise2Clean 27.49 dB against the input's 28.89 on the test subsets). The start is
- `base: noisy`: the noisy reference pixel (residual learning, as DnCNN), the best start a model that may see
  its input pixel has;
- `base: neighbours`: the mean of the pixel's eight neighbours, never the pixel itself: what a blind-spot
  method allows (Noise2Void trains on pixels whose input was replaced by a neighbour; a skip from the input
  pixel would hand back the very noisy value the network must not see).
Our choice for short budgets; the papers predict directly and train for days.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from core.frames import reference
from core.registry import MODELS
from models.base import Denoiser
from models.unet import UNet

@functools.lru_cache(maxsize=16)
def ring(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The 3x3 mean of the eight neighbours, made once per device: no copy from the host inside a forward."""
    weights = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]], dtype=dtype, device=device)
    return (weights / 8)[None, None]


def neighbour_mean(frame: torch.Tensor) -> torch.Tensor:
    """[B, 1, H, W] -> the mean of each pixel's eight neighbours (mirrored at the borders), never the pixel."""
    return F.conv2d(F.pad(frame, (1, 1, 1, 1), mode="reflect"), ring(frame.dtype, frame.device))


BASES = ("noisy", "neighbours")


@MODELS.register("unet")
class UNetDenoiser(Denoiser):
    train_settings = ("width", "unet_top")

    def __init__(self, frames: int = 1, blind: bool = False, width: int = 64, base: str = "noisy",
                 unet_top: str = "table1"):
        super().__init__(frames, blind)
        if base not in BASES:
            raise ValueError(f"base is {base!r}; valid: {', '.join(BASES)}")
        self.base = base
        self.uses_input_pixel = base == "noisy" or not blind  # (a noise map is computed from the pixel too)
        self.net = UNet(self.in_channels, 1, width, unet_top)
        with torch.no_grad():  # the correction starts near zero: the first output is the start itself
            self.net.head.weight.mul_(0.1)
            self.net.head.bias.zero_()

    def denoise(self, frames, x):
        ref = reference(frames)
        start = ref if self.base == "noisy" else neighbour_mean(ref)
        return start + self.net(x)[0], {}
