"""KPN (Mildenhall et al. 2018): a U-Net predicts a K x K kernel per pixel and per frame on a rigid grid;
output = sum over frames and taps of weight x pixel. Same U-Net as the offset network, for a fair comparison."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from models.base import Denoiser
from core.registry import MODELS
from models.unet import UNet


@MODELS.register("kpn")
class KPN(Denoiser):
    train_settings = ("width", "unet_top")

    def __init__(self, frames: int = 1, blind: bool = False, kernel_size: int = 5, width: int = 64,
                 unet_top: str = "table1"):
        super().__init__(frames, blind)
        self.k = kernel_size
        self.net = UNet(self.in_channels, frames * kernel_size**2, width, unet_top)
        self.start_as_box_filter(self.net.head)

    def denoise(self, frames, x):
        weights, _ = self.net(x)
        r = self.k // 2
        padded = F.pad(frames, (r, r, r, r), mode="replicate")  # borders repeat, like the clamped sampler
        return (weights * taps(padded, self.k)).sum(1, keepdim=True), {}


def taps(padded, k: int):
    """[B, T*k*k, H, W]: each frame's k x k neighbourhood of every pixel of `padded` ([B, T, H+k-1, W+k-1]), frame
    major, then row, then column: F.unfold's values and order, from shifted slices (the op 4-6x faster on the CPU)."""
    b, t, hp, wp = padded.shape
    h, w = hp - k + 1, wp - k + 1
    shifted = [padded[:, :, i:i + h, j:j + w] for i in range(k) for j in range(k)]
    return torch.stack(shifted, 2).reshape(b, t * k * k, h, w)
