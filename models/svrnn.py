"""SVRNN, the spatially variant RNN for dynamic-scene deblurring (Zhang, Pan, Ren, Song, Bao, Lau, Yang, CVPR
2018), after the paper and the authors' Caffe prototxt (cvpr18_rnn_deblur_matcaffe):

- a feature CNN (large-kernel convolutions, one stride-2) gives features at half resolution;
- a weight-generation CNN (an encoder-decoder on the blurry image) gives, per pixel and channel, the recurrence
  weight of every RNN and direction, bounded in (-1, 1) by tanh (the authors' TanH layer and restrict_g = 1);
- RNN blocks: h_t = (1 - p_t) x_t + p_t h_{t-1} swept left-right, right-left, top-bottom and bottom-top
  (ops/recurrent_scan.py: a fused numba kernel on the CPU), the four results concatenated and mixed by a 3x3
  convolution with leaky ReLU, so that stacked blocks make the receptive field two-dimensional;
- a reconstruction CNN: bilinear upsampling (not deconvolution) with a skip connection from the full-resolution
  features, and the sharp frame predicted as the blurry one plus a residual.

The recurrence is an IIR filter: a few weights per pixel reach across the whole frame, which is the paper's
argument for a small model with a large receptive field. Sizes here are for 2 cores (`width`: the paper's 32
RNN channels at width 16; its weight CNN is VGG-sized), our choice.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.frames import reference
from core.registry import MODELS
from models.base import Denoiser
from models.unet import pad_to_multiple
from ops.recurrent_scan import DIRECTIONS, scan


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.1)  # the authors' negative_slope 0.1


class WeightCNN(nn.Module):
    """The blurry frame -> tanh-bounded recurrence weights [B, blocks * 4 * channels, H/2, W/2]."""

    def __init__(self, in_channels: int, width: int, outputs: int):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.c3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.d2 = nn.Conv2d(4 * width, 2 * width, 3, padding=1)
        self.out = nn.Conv2d(2 * width, outputs, 3, padding=1)

    def forward(self, x):
        half = F.max_pool2d(F.relu(self.c1(x)), 2)
        half = F.relu(self.c2(half))
        quarter = F.relu(self.c3(F.max_pool2d(half, 2)))
        up = F.interpolate(quarter, size=half.shape[-2:], mode="bilinear", align_corners=False)
        return torch.tanh(self.out(F.relu(self.d2(torch.cat([half, up], 1)))))


@MODELS.register("svrnn")
class SVRNN(Denoiser):
    train_settings = ("width",)
    bf16_pays = False  # 621 ms a step in fp32, 820 under bf16 autocast: the recurrence and its elementwise work

    def __init__(self, frames: int = 1, blind: bool = True, width: int = 16, blocks: int = 2):
        super().__init__(frames, blind)
        c = 2 * width  # the RNN channels (the paper: 32)
        self.blocks, self.channels = blocks, c
        self.e1 = nn.Conv2d(self.in_channels, width, 5, padding=2)
        self.e2 = nn.Conv2d(width, c, 5, stride=2, padding=2)
        self.weights = WeightCNN(self.in_channels, width, blocks * len(DIRECTIONS) * c)
        self.mix = nn.ModuleList(nn.Conv2d(len(DIRECTIONS) * c, c, 3, padding=1) for _ in range(blocks))
        self.r1 = nn.Conv2d(c + width, width, 3, padding=1)
        self.r2 = nn.Conv2d(width, 1, 3, padding=1)
        with torch.no_grad():  # start near the identity (a residual of ~0), as the suite's restorers do
            self.r2.weight.mul_(0.01)
            self.r2.bias.zero_()

    def denoise(self, frames, x):
        ref = reference(frames)
        x, h, w = pad_to_multiple(x, 4)  # a stride-2 encoder and the weight CNN's two poolings
        full = lrelu(self.e1(x))
        feat = lrelu(self.e2(full))
        p = self.weights(x).split(self.channels, dim=1)
        for b, mix in enumerate(self.mix):
            swept = [scan(feat, p[b * len(DIRECTIONS) + k].contiguous(), d) for k, d in enumerate(DIRECTIONS)]
            feat = lrelu(mix(torch.cat(swept, 1)))
        up = F.interpolate(feat, size=full.shape[-2:], mode="bilinear", align_corners=False)
        residual = self.r2(lrelu(self.r1(torch.cat([up, full], 1))))
        return ref + residual[..., :h, :w], {}
