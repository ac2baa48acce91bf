"""Dynamic-scene blur made from 240 fps frames, the GoPro protocol (Nah et al. 2017; SVRNN, Zhang et al. 2018):
a blurry frame is the mean of n consecutive sharp frames in linear light, the target their middle frame. Test
levels are the blur lengths (n7, n13: n = 7 and 13 frames); training draws n per window among the odd lengths
from 7 to 13. A small read noise (sigma `noise` on linear intensities, as real captures have) may be added.

A clean "sequence" here is a window of WINDOW sharp frames (the longest blur) centred on the target; the blurry
frame is one frame [B, 1, H, W]. The training windows come from the train clips of stage `blur` (not from the
30 fps scenes), the validation windows from the end of those clips, the test windows from other clips.
"""
from __future__ import annotations


import torch

from core.paths import BLUR
from core.registry import DEGRADATIONS
from degradations.base import Degradation

LENGTHS = {"n7": 7, "n13": 13}      # test levels: frames averaged
TRAIN_LENGTHS = (7, 9, 11, 13)
WINDOW = 13                         # sharp frames per clean sequence: the longest blur


def average_middle(clean: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """[B, T, H, W] -> [B, 1, H, W]: the mean of the n[b] frames centred on the middle one (n odd, <= T)."""
    t = clean.shape[1]
    offsets = torch.arange(t, device=clean.device) - t // 2
    weights = (offsets.abs()[None, :] <= (n.reshape(-1, 1) // 2)).to(clean.dtype)
    weights = weights / weights.sum(1, keepdim=True)
    return torch.einsum("bt,bthw->bhw", weights, clean)[:, None]


@DEGRADATIONS.register("blur")
class Blur(Degradation):
    test_folder = BLUR / "blurry"
    clean_test = BLUR / "clean.npz"
    train_folder = BLUR / "train"
    val_set = BLUR / "val.npz"
    window = WINDOW

    def __init__(self, noise: float = 0.0):
        if noise < 0:
            raise ValueError(f"the blur's noise must be >= 0; got {noise}")
        self.noise = float(noise)
        self.levels = {name: {"frames": float(n), "noise": self.noise} for name, n in LENGTHS.items()}

    def sample_params(self, n, generator):
        pick = torch.randint(len(TRAIN_LENGTHS), (n,), generator=generator)
        frames = torch.tensor(TRAIN_LENGTHS, dtype=torch.float32)[pick]
        return {"frames": frames[:, None, None, None], "noise": torch.full((n, 1, 1, 1), self.noise)}

    def apply(self, clean, params, generator):
        if clean.shape[1] < WINDOW:
            raise ValueError(f"blur needs windows of {WINDOW} sharp frames; got {clean.shape[1]}")
        n = torch.as_tensor(params["frames"]).to(torch.int64).expand(clean.shape[0], 1, 1, 1)
        blurry = average_middle(clean, n)
        if self.noise > 0:
            blurry = blurry + self.noise * torch.randn(blurry.shape, generator=generator, dtype=blurry.dtype)
        return blurry

    def condition(self, degraded_reference, params):
        return None  # deblurring models are blind: the blur is read from the image
