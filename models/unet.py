"""The offset network: the U-Net of the paper's Table 1 and Figure 4(b).

Five levels of three 3x3 convs with ReLU, 2x2 max pooling down, bilinear upsampling up, skip connections by
summation; widths 64-128-256-512-512 in the paper, here `width` times 1-2-4-8-8. Any frame size works: the
input is padded to a multiple of 16 (four poolings) and the outputs are cropped back (after NAFNet).

The last full-resolution block (`top`): "table1", as the paper's Table 1 gives it, two convs at 2 x width, so
that the heads and the weight network see twice the features (the full-resolution skip, width channels, is
summed onto the first half of them); or "narrow", three convs at width like every other block (this suite
before; a KPN head then predicts its 25-245 taps from 8 features at the default width).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

POOLINGS = 4
TOPS = ("table1", "narrow")


def conv_block(cin: int, cout: int, n: int = 3) -> nn.Sequential:
    layers = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return (F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x), h, w


class UNet(nn.Module):
    """The U-Net of the paper's Table 1, the backbone of the kernel models (offsets and weights), direct, KPN and
    the U-Net denoiser: x [B, in, H, W] -> (head output [B, out, H, W] before any activation, last features
    [B, features, H, W]).

    out_channels=None builds no head (the head output is then None): a rigid kernel needs only the features.
    """

    def __init__(self, in_channels: int, out_channels: int | None, width: int = 64, top: str = "table1"):
        super().__init__()
        if top not in TOPS:
            raise ValueError(f"top is {top!r}; valid values are {', '.join(TOPS)}")
        widths = [width * m for m in (1, 2, 4, 8, 8)]
        self.features = 2 * width if top == "table1" else width  # channels of the last features
        self.down = nn.ModuleList(
            [conv_block(in_channels if i == 0 else widths[i - 1], widths[i]) for i in range(len(widths))])
        self.up = nn.ModuleList([conv_block(widths[i + 1], widths[i]) for i in reversed(range(1, len(widths) - 1))]
                                + [conv_block(widths[1], self.features, 2 if top == "table1" else 3)])
        self.head = nn.Conv2d(self.features, out_channels, 3, padding=1) if out_channels else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, h, w = pad_to_multiple(x, 2**POOLINGS)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(x)
            x = x + F.pad(skip, (0, 0, 0, 0, 0, x.shape[1] - skip.shape[1]))  # Table 1's top: onto the first w
        x = x[..., :h, :w]
        return (self.head(x) if self.head is not None else None), x
