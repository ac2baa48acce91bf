"""Deformable kernels (paper Sec. 3-4): the offset network places N samples per pixel, the weight network
weighs them, output = sum_n w_n(x) X(x + p_n + dp_n(x)) (eq. 1, 6). Weights are not normalised.

One class covers the paper's variants through three choices:
- kernel (kt, kh, kw): (1, 5, 5) on an image is Deformable 2D; (3, 3, 3) or (5, 5, 5) on a frame stack is
  Deformable 3D with offsets in x, y and t (eq. 6-7); `per_frame` puts a kh x kw 2D kernel on every frame (eq. 5);
- dynamic_offsets=False keeps the rigid grid (Table 4, "fixed kernel");
- dynamic_weights=False learns one weight per sample, shared by all pixels (Table 4, "w/o dynamic weights").
"""
from __future__ import annotations

import torch
import torch.nn as nn

from models.base import Denoiser, as_float32
from core.registry import MODELS
from models.sampler import sample_bilinear, sample_trilinear
from models.unet import UNet
from ops import trilinear


KERNEL_PIXELS = ((0.3, 0.3), (0.5, 0.5), (0.7, 0.6))  # where Figure 10 looks, as fractions of (y, x)


class DeformableKernel(Denoiser):
    train_settings = ("width", "weight_width", "max_offset", "unet_top")
    diagnostic_keys = ("offsets", "weights")

    def __init__(self, frames: int = 1, blind: bool = False, kernel=(1, 5, 5), per_frame: bool = False,
                 width: int = 64, weight_width: int = 64, max_offset: float = 4.0,
                 dynamic_offsets: bool = True, dynamic_weights: bool = True, unet_top: str = "table1"):
        super().__init__(frames, blind)
        kt, kh, kw = (frames, kernel[-2], kernel[-1]) if per_frame else tuple(kernel)
        if kt > frames:
            raise ValueError(f"a kernel {kt} frames deep needs at least {kt} input frames; got {frames}")
        self.kernel, self.per_frame, self.max_offset = (kt, kh, kw), per_frame, max_offset
        self.samples = kt * kh * kw
        # Temporal offsets only where the kernel is 3D over a stack; a 2D kernel stays on its frame.
        self.temporal = frames > 1 and not per_frame
        self.dims = 3 if self.temporal else 2
        self.dynamic_offsets, self.dynamic_weights = dynamic_offsets, dynamic_weights
        self.offset_net = UNet(self.in_channels, self.dims * self.samples if dynamic_offsets else None, width,
                                      unet_top)
        if dynamic_offsets:  # start on the regular grid: small offsets, zero bias
            with torch.no_grad():
                self.offset_net.head.weight.mul_(0.1)
                self.offset_net.head.bias.zero_()
        # Samples in (t, y, x) order, t slowest: the annealing groups are contiguous runs of kh*kw samples.
        tau = (frames - 1) / 2
        t, y, x = torch.meshgrid(torch.arange(kt) - (kt - 1) / 2 + tau, torch.arange(kh) - (kh - 1) / 2,
                                 torch.arange(kw) - (kw - 1) / 2, indexing="ij")
        self.register_buffer("grid", torch.stack([x, y, t], -1).reshape(-1, 3), persistent=False)
        self.register_buffer("offset_scale", torch.tensor([max_offset, max_offset, max(tau, 1.0)]),
                             persistent=False)
        if dynamic_weights:
            cin = self.samples + self.in_channels + self.offset_net.features
            self.weight_net = nn.Sequential(
                nn.Conv2d(cin, weight_width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(weight_width, weight_width, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(weight_width, self.samples, 3, padding=1))
            self.start_as_box_filter(self.weight_net[-1])
        else:
            self.static_weights = nn.Parameter(torch.full((self.samples,), 1.0 / self.samples))

    @property
    def groups(self) -> int:
        """Sample groups of the annealing term (eq. 10): one per frame the kernel spans."""
        return self.kernel[0]

    def sample_positions(self, offsets_raw: torch.Tensor | None, b: int, h: int, w: int) -> torch.Tensor:
        """[B, N, H, W, dims] positions (x, y) or (x, y, t), contiguous: pixel + regular grid + tanh offsets
        (scaled). A 2D kernel's t is its grid's, never offset: it is left out here (a third of the work) and put
        back for the diagnostics (`frame_of`, `with_t`)."""
        ys, xs = torch.meshgrid(torch.arange(h, device=self.grid.device, dtype=self.grid.dtype),
                                torch.arange(w, device=self.grid.device, dtype=self.grid.dtype), indexing="ij")
        pixel = torch.stack([xs, ys, torch.zeros_like(xs)][:self.dims], -1)  # [H, W, dims]
        pos = pixel[None, None] + self.grid[None, :, None, None, :self.dims]  # [1, N, H, W, dims]
        if not self.dynamic_offsets:
            return pos.expand(b, -1, -1, -1, -1)
        off = _SampleMajor.apply(torch.tanh(offsets_raw), self.dims)
        # the scale laid out over a row's (x, dims) as well, so that the product runs vectorised along the row
        return pos + off * self.offset_scale[:self.dims].expand(w, self.dims).contiguous()

    def frame_of(self, pos: torch.Tensor) -> torch.Tensor:
        """[B, N, H, W] the t of each sample, the frame it reads: a 3D kernel's own, a 2D kernel's its grid's."""
        if pos.shape[-1] == 3:
            return pos[..., 2]
        return self.grid[:, 2].to(pos.dtype)[None, :, None, None].expand(pos.shape[:-1])

    def with_t(self, pos: torch.Tensor) -> torch.Tensor:
        """[B, N, H, W, 3] positions (x, y, t): a 2D kernel's (x, y) given its grid's t."""
        return pos if pos.shape[-1] == 3 else torch.cat([pos, self.frame_of(pos)[..., None]], -1)

    def sample(self, frames: torch.Tensor, offsets_raw: torch.Tensor | None) -> torch.Tensor:
        """Samples [B, N, H, W] of the noisy frames at the positions of the raw offsets. On the CPU, the fused kernel
        of ops/trilinear.py, from the raw offsets to the samples (positions, tanh and all: 1.09-1.13x the
        training steps of the positions and grid_sample, docs/recipe.md); on CUDA, positions and grid_sample."""
        if frames.device.type != "cpu":
            return self.sample_grid(frames, offsets_raw)
        return trilinear.sample(frames, offsets_raw, self.grid, self.offset_scale[:self.dims])

    def sample_grid(self, frames: torch.Tensor, offsets_raw: torch.Tensor | None) -> torch.Tensor:
        """The same samples through the positions and grid_sample (models/sampler.py), for every variant and
        device."""
        b, _, h, w = frames.shape
        pos = self.sample_positions(offsets_raw, b, h, w)
        if self.temporal:
            return sample_trilinear(frames[:, None], pos)[:, 0]
        if self.frames == 1:
            return sample_bilinear(frames, pos[..., :2])[:, 0]
        # Per-frame 2D kernels: each group of kh*kw samples reads its own frame.
        b, n, h, w, _ = pos.shape
        per = n // self.frames
        img = frames.reshape(b * self.frames, 1, h, w)
        xy = pos[..., :2].reshape(b, self.frames, per, h, w, 2).reshape(b * self.frames, per, h, w, 2)
        return sample_bilinear(img, xy).reshape(b, n, h, w)

    def denoise(self, frames, x):
        offsets_raw, features = self.offset_net(x)
        # float32 before tanh: in bf16 an offset would move in steps of 1/256 of its reach
        offsets_raw = as_float32(offsets_raw)
        samples = self.sample(frames, offsets_raw)
        if self.dynamic_weights:
            weights = self.weight_net(torch.cat([samples, x, features], 1))
        else:
            weights = self.static_weights[None, :, None, None].expand_as(samples)
        out = (weights * samples).sum(1, keepdim=True)
        return out, {"samples": samples, "weights": weights, "offsets": offsets_raw, "groups": self.groups}

    def diagnostics(self, auxes):
        """Figure 9: the share of all samples nearest each frame index; Figure 10: sample positions and weights
        at a few pixels of the first sequence."""
        positions = [self.sample_positions(a["offsets"], a["weights"].shape[0], *a["weights"].shape[2:])
                     for a in auxes]
        t = torch.cat([self.frame_of(p).flatten() for p in positions])
        counts = torch.bincount(t.round().clamp(0, self.frames - 1).long(), minlength=self.frames).double()
        pos, w = self.with_t(positions[0][:1])[0], auxes[0]["weights"][0]  # [N, H, W, 3], [N, H, W]
        h, wd = w.shape[-2:]
        kernels = []
        for fy, fx in KERNEL_PIXELS:
            y, x = int(fy * (h - 1)), int(fx * (wd - 1))
            kernels.append({"pixel": [x, y], "positions": pos[:, y, x].tolist(), "weights": w[:, y, x].tolist()})
        return {"temporal_shares": (counts / counts.sum()).tolist(), "kernels": kernels}


class _SampleMajor(torch.autograd.Function):
    """[B, N * dims, H, W] offsets as the offset network gives them -> a contiguous [B, N, H, W, dims] copy,
    whose gradient goes back in the input's own memory layout: tanh's backward pass then reads two tensors of
    one layout (3.2 -> 2.0 ms in a Deformable 2D step's profile)."""

    @staticmethod
    def forward(ctx, off: torch.Tensor, dims: int) -> torch.Tensor:
        b, c, h, w = off.shape
        ctx.channels_last = off.is_contiguous(memory_format=torch.channels_last) and not off.is_contiguous()
        return off.reshape(b, c // dims, dims, h, w).permute(0, 1, 3, 4, 2).contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        b, n, h, w, dims = grad.shape
        layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
        out = torch.empty((b, n * dims, h, w), dtype=grad.dtype, device=grad.device, memory_format=layout)
        out.view(b, n, dims, h, w).permute(0, 1, 3, 4, 2).copy_(grad)  # one copy, straight into that layout
        return out, None


@MODELS.register("deformable_2d")
class Deformable2D(DeformableKernel):
    """Image model: a 5x5 deformable kernel on one frame."""

    def __init__(self, frames: int = 1, kernel=(1, 5, 5), **kw):
        super().__init__(frames=frames, kernel=kernel, **kw)


@MODELS.register("deformable_2d_per_frame")
class Deformable2DPerFrame(DeformableKernel):
    """Video model: a 3x3 deformable 2D kernel on every frame (eq. 5)."""

    def __init__(self, frames: int = 5, kernel=(1, 3, 3), **kw):
        super().__init__(frames=frames, kernel=kernel, per_frame=True, **kw)


@MODELS.register("deformable_3d")
class Deformable3D(DeformableKernel):
    """Video model: a 3x3x3 (or 5x5x5) deformable 3D kernel over the frame stack (eq. 6-7)."""

    def __init__(self, frames: int = 5, kernel=(3, 3, 3), **kw):
        super().__init__(frames=frames, kernel=kernel, **kw)

