"""DnCNN (Zhang et al. 2017): 17 conv layers with batch norm, predicting the noise (residual learning), by
default of the gamma-corrected frame (models/base.py, `domain`)."""
from __future__ import annotations

import torch
import torch.nn as nn

from models.base import Denoiser
from core.registry import MODELS


@MODELS.register("dncnn")
class DnCNN(Denoiser):
    train_settings = ("width",)

    def __init__(self, frames: int = 1, blind: bool = False, depth: int = 17, width: int = 64,
                 domain: str = "srgb"):
        super().__init__(frames, blind)
        self.domain = self.check_domain(domain)
        layers = [nn.Conv2d(self.in_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)
        # Start near the identity (a residual of ~0): a short CPU run then starts from the noisy input rather
        # than from a random residual as large as the signal. Our choice for short budgets.
        with torch.no_grad():
            layers[-1].weight.mul_(0.01)
            layers[-1].bias.zero_()

    def denoise(self, frames, x):
        return self.subtract_noise(frames, x, self.net, self.domain), {}
