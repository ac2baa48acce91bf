"""Table 4 "direct": the offset network's U-Net synthesises the frame itself, with no kernel at all."""
from __future__ import annotations

from models.base import Denoiser
from core.registry import MODELS
from models.unet import OffsetUNet


@MODELS.register("direct")
class Direct(Denoiser):
    def __init__(self, frames: int = 5, blind: bool = False, width: int = 64):
        super().__init__(frames, blind)
        self.net = OffsetUNet(self.in_channels, 1, width)

    def denoise(self, frames, x):
        return self.net(x)[0], {}
