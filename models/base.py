"""The one call every learned denoiser answers (after deepinv's base model).

    model(frames, noise_map=None) -> frame

frames [B, T, H, W] noisy linear intensities (T = 1 for an image model, 2*tau+1 for a video model; the
reference frame is the middle one); noise_map [B, 1, H, W] per-pixel noise std for a non-blind model (a blind
one ignores it, so callers may always pass the degradation's condition); the result is the denoised reference
frame [B, 1, H, W]. With return_aux=True a model also returns a dict of what it sampled (for the annealing term
and the kernel figures), empty where that means nothing.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from core.colour import linear_to_srgb, srgb_to_linear
from core.frames import reference
from models.compute import autocast


def as_float32(v):
    return v.float() if torch.is_tensor(v) and v.dtype == torch.bfloat16 else v


# Where a residual network estimates the noise: "srgb", the gamma-corrected frame (the sRGB images DnCNN and
# NLRN were designed on, and the domain of the loss and the metrics), or "linear", the frames as they travel.
DOMAINS = ("srgb", "linear")


class Denoiser(nn.Module):
    registered_name = "?"
    diagnostic_keys: tuple[str, ...] = ()  # what evaluation keeps of the aux dict for diagnostics()
    uses_input_pixel = True  # an output pixel may depend on its own noisy input pixel (False: a blind spot)
    train_settings: tuple[str, ...] = ()  # `train` settings it takes as arguments (its params `args` override them)
    bf16_pays = True  # train.precision auto gives it bf16 where the device has it (False: fp32, it ran slower)

    def __init__(self, frames: int = 1, blind: bool = False):
        super().__init__()
        self.frames, self.blind = frames, blind
        self.precision = "fp32"  # set by compute_as (models/compute.py)

    def compute_as(self, precision: str, channels_last: bool) -> Denoiser:
        """Run in `precision` ("bf16" or "fp32") with convolution weights in channels-last layout or not."""
        self.precision = precision
        return self.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    @property
    def in_channels(self) -> int:
        """Network input: the noisy frames, plus the noise map when non-blind."""
        return self.frames + (0 if self.blind else 1)

    def network_input(self, frames: torch.Tensor, noise_map: torch.Tensor | None) -> torch.Tensor:
        if frames.ndim != 4 or frames.shape[1] != self.frames:
            raise ValueError(f"{self.arch} takes frames [B, {self.frames}, H, W]; got {tuple(frames.shape)}")
        if self.blind:
            return frames
        if noise_map is None:
            raise ValueError(f"{self.arch} is non-blind: pass the noise map [B, 1, H, W]")
        return torch.cat([frames, noise_map], dim=1)

    def forward(self, frames: torch.Tensor, noise_map: torch.Tensor | None = None, return_aux: bool = False):
        with autocast(self.precision, frames.device):
            out, aux = self.denoise(frames, self.network_input(frames, noise_map))
        out, aux = as_float32(out), {k: as_float32(v) for k, v in aux.items()}  # bf16 stays inside the forward
        return (out, aux) if return_aux else out

    def denoise(self, frames: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    @staticmethod
    def check_domain(domain: str) -> str:
        if domain not in DOMAINS:
            raise ValueError(f"domain is {domain!r}; valid values are {', '.join(DOMAINS)}")
        return domain

    def subtract_noise(self, frames: torch.Tensor, x: torch.Tensor, estimate, domain: str) -> torch.Tensor:
        """The reference frame minus estimate(network input), both in `domain`, back in linear light. In sRGB the
        frames of the input are gamma-corrected (the noise map stays a linear std). Why: the L1 loss on sRGB
        outputs weighs a linear residual by the gamma's slope, up to 12.92 on dark pixels, and in linear light
        DnCNN's 300-step CPU run stayed at its noisy input (28.9 dB low at a peak rate of 1e-3; 33.6 dB in sRGB)."""
        ref = reference(frames)
        if domain == "linear":
            return ref - estimate(x)
        x = torch.cat([linear_to_srgb(x[:, :self.frames]), x[:, self.frames:]], 1)
        return srgb_to_linear(linear_to_srgb(ref) - estimate(x))

    @staticmethod
    def start_as_box_filter(conv: nn.Conv2d) -> None:
        """Make a kernel-predicting head start as a box filter: small random weights and a bias of 1/N on every
        sample. A short CPU run then starts from a plain average (every annealing group already outputs the
        average of its samples) instead of from zero. Our choice; the paper does not say how it initialises."""
        with torch.no_grad():
            conv.weight.mul_(0.1)
            conv.bias.fill_(1.0 / conv.out_channels)

    @property
    def device(self) -> torch.device:
        """Where its weights are (the CPU for a model without any)."""
        held = next(self.parameters(), None)
        return torch.device("cpu") if held is None else held.device

    @property
    def arch(self) -> str:
        return self.registered_name

    def diagnostics(self, auxes: list[dict]) -> dict:
        """What a model tells of itself on a test set, from the kept aux dicts of its chunks (JSON-able);
        the deformable kernels give where their samples land (Figures 9 and 10)."""
        return {}

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
