"""FastDVDnet (Tassano, Delon and Veit, CVPR 2020): the field's standard video denoiser since 2020, not in the
paper, shown beside it in Table 3 on the same data and budget.

No motion estimation: two cascaded stages of one kind of denoising block over five frames. Stage 1, one block with
shared weights, denoises the middle frame of each of the triplets (1, 2, 3), (2, 3, 4) and (3, 4, 5); stage 2, a
second block, denoises the middle of those three results. A block is a small U-Net of three scales (widths w, 2w,
4w; the paper's 32-64-128): an input convolution grouped per frame (`per_frame` channels each, the paper's 30),
strided convolutions down, pixel shuffle up, skips by summation, batch norm, and a residual: the block's middle
input frame minus its output. The noise map enters beside every frame (non-blind); a blind block sees the frames
alone. As DnCNN here, the residuals are taken on the gamma-corrected frames (models/base.py, `domain`), the
domain of the sRGB videos FastDVDnet was designed on, and the last convolutions start small, so a short CPU run
starts from its input.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from core.colour import linear_to_srgb, srgb_to_linear
from core.registry import MODELS
from models.base import Denoiser
from models.unet import pad_to_multiple

SCALES = 2  # two halvings: H and W are padded to a multiple of 4


def conv_bn_relu(cin: int, cout: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class DenoisingBlock(nn.Module):
    """block(three frames [B, 3, H, W], noise map [B, 1, H, W] or None) -> the middle frame denoised."""

    def __init__(self, width: int, per_frame: int, with_map: bool):
        super().__init__()
        self.with_map = with_map
        w = width
        self.input = nn.Sequential(*conv_bn_relu(3 * (1 + with_map), 3 * per_frame, groups=3),
                                   *conv_bn_relu(3 * per_frame, w))
        self.down1 = nn.Sequential(*conv_bn_relu(w, 2 * w, stride=2), *conv_bn_relu(2 * w, 2 * w),
                                   *conv_bn_relu(2 * w, 2 * w))
        self.down2 = nn.Sequential(*conv_bn_relu(2 * w, 4 * w, stride=2), *conv_bn_relu(4 * w, 4 * w),
                                   *conv_bn_relu(4 * w, 4 * w))
        self.up2 = nn.Sequential(*conv_bn_relu(4 * w, 4 * w), *conv_bn_relu(4 * w, 4 * w),
                                 nn.Conv2d(4 * w, 8 * w, 3, padding=1, bias=False), nn.PixelShuffle(2))
        self.up1 = nn.Sequential(*conv_bn_relu(2 * w, 2 * w), *conv_bn_relu(2 * w, 2 * w),
                                 nn.Conv2d(2 * w, 4 * w, 3, padding=1, bias=False), nn.PixelShuffle(2))
        self.output = nn.Sequential(*conv_bn_relu(w, w), nn.Conv2d(w, 1, 3, padding=1, bias=False))
        with torch.no_grad():
            self.output[-1].weight.mul_(0.01)

    def forward(self, frames: torch.Tensor, noise_map: torch.Tensor | None) -> torch.Tensor:
        # Each frame beside its noise map: the grouped input convolution sees one frame (and map) per group.
        x = torch.stack([frames, noise_map.expand_as(frames)], 2).flatten(1, 2) if self.with_map else frames
        x0 = self.input(x)
        x1 = self.down1(x0)
        x = self.up2(self.down2(x1))
        x = self.up1(x + x1)
        return frames[:, 1:2] - self.output(x + x0)


@MODELS.register("fastdvdnet")
class FastDVDnet(Denoiser):
    def __init__(self, frames: int = 5, blind: bool = False, width: int = 32, per_frame: int = 30,
                 domain: str = "srgb"):
        if frames != 5:
            raise ValueError(f"fastdvdnet denoises from five frames (its two stages of triplets); frames is {frames}")
        super().__init__(frames, blind)
        self.domain = self.check_domain(domain)
        self.stage1 = DenoisingBlock(width, per_frame, not blind)
        self.stage2 = DenoisingBlock(width, per_frame, not blind)

    def denoise(self, frames, x):
        noise_map = None if self.blind else x[:, self.frames:]
        frames, h, w = pad_to_multiple(frames, 2**SCALES)
        if noise_map is not None:
            noise_map = pad_to_multiple(noise_map, 2**SCALES)[0]
        if self.domain == "srgb":
            frames = linear_to_srgb(frames)
        middles = torch.cat([self.stage1(frames[:, k:k + 3], noise_map) for k in range(3)], 1)
        out = self.stage2(middles, noise_map)[..., :h, :w]
        return (srgb_to_linear(out) if self.domain == "srgb" else out), {}
