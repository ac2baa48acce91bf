"""Training without clean targets: Noise2Noise, Noise2Void and HQ-SSL, and Noise2Clean, their supervised reference
with the same loss (the study `ssl`). The gaps between them measure the target alone.

- Noise2Clean: L2 against the clean reference frame, in linear intensities.
- Noise2Noise (Lehtinen et al. 2018): L2 against an independent noisy draw of the clean reference frame. The noise
  is zero-mean, so the expected loss is Noise2Clean's plus a constant: the same minimiser. L2 in linear space,
  because the suite's L1 on sRGB would aim at the median of a gamma-curved noisy value, not at the clean one.
- Noise2Void (Krull et al. 2019): single noisy frames; a `fraction` of the pixels (about 1.5% in the paper) take
  the value of a random other pixel within `radius`, and the L2 loss against the noisy frame counts those pixels
  only, so the network never learns the identity.
- HQ-SSL (Laine et al. 2019): the blind-spot network (models/blindspot.py) predicts a Gaussian prior of the clean
  value; the noisy pixel is that prior plus the noise, so the loss is the negative log-likelihood of the noisy
  pixel under N(mu, sigma_p^2 + sigma_n^2), sigma_n^2 from the known noise model (the condition squared).
"""
from __future__ import annotations

import torch

from core.registry import OBJECTIVES
from core.frames import reference
from objectives.base import Objective


def l2(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).mean()


@OBJECTIVES.register("noise2clean")
class Noise2Clean(Objective):
    def loss(self, net, batch, step, steps):
        return l2(net(batch["input"], batch["condition"]), reference(batch["clean"]))


def second_draw(degradation, clean_reference: torch.Tensor, params: dict, generator: torch.Generator):
    """An independent degraded copy of the clean reference frames at the same drawn levels, from the step's
    random stream (so a resumed run draws the same)."""
    return degradation.apply(clean_reference, params, generator)


@OBJECTIVES.register("noise2noise")
class Noise2Noise(Objective):
    needs_degradation = True

    def draw(self, batch):
        return {"target": second_draw(self.degradation, reference(batch["clean"]), batch["params"],
                                      batch["generator"])}

    def loss(self, net, batch, step, steps):
        return l2(net(batch["input"], batch["condition"]), batch["target"])


# Every offset within the square of a radius but the centre.
def neighbour_offsets(radius: int) -> torch.Tensor:
    r = torch.arange(-radius, radius + 1)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    keep = (dy != 0) | (dx != 0)
    return torch.stack([dy[keep], dx[keep]], 1)


def reflect(i: torch.Tensor, size: int) -> torch.Tensor:
    i = i.abs()
    return torch.where(i > size - 1, 2 * (size - 1) - i, i)


def n2v_mask(noisy: torch.Tensor, fraction: float, radius: int, generator: torch.Generator):
    """noisy [B, 1, H, W] -> (input with round(fraction * H * W) pixels per frame replaced by another pixel of the
    same frame within `radius` (mirrored at the borders, never the pixel itself), mask of those pixels)."""
    b, _, h, w = noisy.shape
    if min(h, w) <= radius:
        raise ValueError(f"noise2void needs crops larger than its radius {radius}; got {h}x{w}")
    n = max(1, round(fraction * h * w))
    offsets = neighbour_offsets(radius)
    masked, mask = noisy.clone(), torch.zeros_like(noisy, dtype=torch.bool)
    for k in range(b):
        where = torch.randperm(h * w, generator=generator)[:n]
        y, x = where // w, where % w
        d = offsets[torch.randint(len(offsets), (n,), generator=generator)]
        ny, nx = reflect(y + d[:, 0], h), reflect(x + d[:, 1], w)
        same = (ny == y) & (nx == x)  # a mirror can land back on the pixel: take the opposite neighbour
        ny = torch.where(same, reflect(y - d[:, 0], h), ny)
        nx = torch.where(same, reflect(x - d[:, 1], w), nx)
        masked[k, 0, y, x] = noisy[k, 0, ny, nx]
        mask[k, 0, y, x] = True
    return masked, mask


@OBJECTIVES.register("noise2void")
class Noise2Void(Objective):
    single_image = True
    needs_clean = False

    def __init__(self, train, degradation=None, fraction: float = 0.015, radius: int = 2):
        super().__init__(train, degradation)
        if not 0 < fraction < 1 or int(radius) != radius or radius < 1:
            raise ValueError(f"noise2void takes 0 < fraction < 1 and an integer radius >= 1; got {fraction}, {radius}")
        self.fraction, self.radius = float(fraction), int(radius)

    def check(self, model):
        if getattr(model, "uses_input_pixel", True):
            raise ValueError("noise2void trains a network that never sees its own input pixel: use arch unet with "
                             "base: neighbours and blind: true")

    def draw(self, batch):
        masked, mask = n2v_mask(batch["input"], self.fraction, self.radius, batch["generator"])
        return {"masked": masked, "mask": mask}

    def loss(self, net, batch, step, steps):
        out = net(batch["masked"], None)  # no noise map: it is computed from the very pixels the mask hides
        mask = batch["mask"]  # a product, not an index: indexing by a mask waits for the device (nonzero)
        return ((out - batch["input"]) ** 2 * mask).sum() / mask.sum()


@OBJECTIVES.register("hqssl")
class HQSSL(Objective):
    single_image = True
    needs_clean = False
    arch = "blindspot"

    def loss(self, net, batch, step, steps):
        _, aux = net(batch["input"], batch["condition"], return_aux=True)
        noise_variance = batch["condition"] ** 2
        return gaussian_nll(reference(batch["input"]), aux["prior_mean"], aux["prior_variance"] + noise_variance)


def gaussian_nll(y: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of y under N(mean, variance), without the constant log(2 pi) / 2."""
    return 0.5 * ((y - mean) ** 2 / variance + variance.log()).mean()
