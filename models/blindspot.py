"""HQ-SSL (Laine, Karras, Lehtinen and Aila, NeurIPS 2019): a blind-spot network and a Bayesian posterior mean.

The blind spot: four branches see the frame rotated by 0, 90, 180 and 270 degrees. In a branch every
convolution is shifted so that an output pixel sees only input rows above it or in its own row (pad the top
by two rows and the bottom by none), a shift down by one row before each pooling keeps that true across
resolutions, nearest upsampling keeps it on the way up, and a last shift by one row puts the whole receptive
field strictly above the pixel. Rotated back and stacked, the four half-planes cover every neighbour but never
the pixel itself; 1x1 convolutions merge them. The branch network is the suite's U-Net (models/unet.py: five
levels of three convs, widths `width` x 1-2-4-8-8, skips by summation) made blind, with shared weights across
the rotations, as the authors stack the rotations on the batch axis.

The network predicts a Gaussian prior of the clean value (mean, variance) from the neighbourhood alone; training
fits it by the likelihood of the noisy pixel (objectives/self_supervised.py), and the output is the posterior
mean, the product of that prior with the noisy pixel's likelihood:

    x_hat = (sigma_n^2 * mu + sigma_p^2 * y) / (sigma_n^2 + sigma_p^2)

sigma_n is the suite's non-blind condition (the noise map: the signal-dependent model sigma_s * q + sigma_r^2
evaluated at the noisy value, as every non-blind model gets it); Laine et al. evaluate their Poisson-Gaussian
variance at the predicted mean instead. Known noise parameters: their "sigma known" setting. The noise map never
enters the network: it is a function of the very pixel the blind spot hides.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.registry import MODELS
from models.base import Denoiser
from models.unet import POOLINGS, pad_to_multiple
from models.unet_denoiser import neighbour_mean

LOG_VARIANCE_START = -7.0  # the prior variance starts near 1e-3 (linear intensities), about a noisy pixel's


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Row r takes row r - 1 (zeros enter at the top)."""
    return F.pad(x, (0, 0, 1, 0))[..., :-1, :]


class UpwardConv(nn.Conv2d):
    """A 3x3 convolution whose output row r sees input rows r-2..r only: two rows of top padding, none below."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout, 3, padding=0)

    def forward(self, x):
        return super().forward(F.pad(x, (1, 1, 2, 0)))


def upward_block(cin: int, cout: int, n: int = 3) -> nn.Sequential:
    layers = []
    for i in range(n):
        layers += [UpwardConv(cin if i == 0 else cout, cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UpwardUNet(nn.Module):
    """The U-Net whose every output pixel sees only input pixels strictly above it."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        widths = [width * m for m in (1, 2, 4, 8, 8)]
        self.down = nn.ModuleList(
            [upward_block(in_channels if i == 0 else widths[i - 1], widths[i]) for i in range(len(widths))])
        self.up = nn.ModuleList([upward_block(widths[i + 1], widths[i]) for i in reversed(range(len(widths) - 1))])

    def forward(self, x):
        x, h, w = pad_to_multiple(x, 2**POOLINGS)  # replicate padding below and right: never above a pixel
        skips = []
        for i, block in enumerate(self.down):
            if i:
                # Pooled row p then covers rows 2p-1 and 2p: nothing below the first row of its 2x2 block.
                x = F.max_pool2d(shift_down(x), 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(F.interpolate(x, size=skip.shape[-2:], mode="nearest")) + skip
        return shift_down(x)[..., :h, :w]


@MODELS.register("blindspot")
class BlindSpot(Denoiser):
    """model(frames [B, 1, H, W], noise_map) -> posterior mean [B, 1, H, W]; aux: the prior's mean and variance."""
    train_settings = ("width",)
    uses_input_pixel = False  # the prior; the posterior mean uses the pixel by design, after the network

    def __init__(self, frames: int = 1, width: int = 64):
        if frames != 1:
            raise ValueError("blindspot is a single-image network: frames must be 1")
        super().__init__(frames, blind=False)
        self.branch = UpwardUNet(frames, width)
        self.merge = nn.Sequential(nn.Conv2d(4 * width, 4 * width, 1), nn.ReLU(inplace=True),
                                   nn.Conv2d(4 * width, width, 1), nn.ReLU(inplace=True), nn.Conv2d(width, 2, 1))
        with torch.no_grad():  # start from the neighbours' average and a prior variance near LOG_VARIANCE_START
            self.merge[-1].weight.mul_(0.1)
            self.merge[-1].bias.zero_()

    def prior(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean value's Gaussian prior (mean, variance) at every pixel, from its neighbours alone."""
        if frames.ndim != 4 or frames.shape[1] != 1:
            raise ValueError(f"blindspot takes frames [B, 1, H, W]; got {tuple(frames.shape)}")
        views = [torch.rot90(self.branch(torch.rot90(frames, k, (2, 3))), -k, (2, 3)) for k in range(4)]
        out = self.merge(torch.cat(views, dim=1))
        # The mean starts at the neighbours' average (blind too), as the study's U-Net does (models/unet_denoiser.py).
        return neighbour_mean(frames) + out[:, :1], torch.exp((out[:, 1:] + LOG_VARIANCE_START).clamp(max=5.0))

    def forward(self, frames, noise_map=None, return_aux=False):
        if noise_map is None:
            raise ValueError("blindspot needs the noise map: its posterior mean weighs the noisy pixel by it")
        mean, variance = self.prior(frames)
        out = posterior_mean(frames, mean, variance, noise_map**2)
        aux = {"prior_mean": mean, "prior_variance": variance}
        return (out, aux) if return_aux else out


def posterior_mean(y, prior_mean, prior_variance, noise_variance):
    """The mean of N(prior_mean, prior_variance) times the likelihood N(y; x, noise_variance), per pixel."""
    return (noise_variance * prior_mean + prior_variance * y) / (noise_variance + prior_variance)
