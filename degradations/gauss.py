"""Additive white Gaussian noise on grey sRGB images, the protocol of NLRN's and DnCNN's papers (study gauss):
y_srgb = x_srgb + N(0, sigma^2), sigma on the 8-bit scale (15, 25, 50 at test; training draws sigma per image
uniformly in [5, 55], a range that covers the test levels as DnCNN-B's [0, 55] does).

Frames travel in linear light everywhere in the suite, so the noisy sRGB image is carried back through the
inverse transfer (extended past [0, 1]: linear below the toe, the power law above 1, so nothing is clipped and
the round trip is exact); metrics gamma-correct as always, so PSNR is measured on the sRGB images. The non-blind
condition is the noise std, constant over the image.
"""
from __future__ import annotations


import torch

from core.colour import linear_to_srgb, srgb_to_linear
from core.paths import GAUSS
from core.registry import DEGRADATIONS
from degradations.base import Degradation

LEVELS = {"s15": 15.0, "s25": 25.0, "s50": 50.0}  # sigma on the 8-bit scale
TRAIN_SIGMA = (5.0, 55.0)


@DEGRADATIONS.register("gauss")
class Gauss(Degradation):
    levels = {name: {"sigma": s / 255.0} for name, s in LEVELS.items()}
    test_folder = GAUSS / "noisy"
    clean_test = GAUSS / "clean.npz"

    def sample_params(self, n, generator):
        u = torch.rand(n, generator=generator, dtype=torch.float64)
        sigma = (TRAIN_SIGMA[0] + u * (TRAIN_SIGMA[1] - TRAIN_SIGMA[0])) / 255.0
        return {"sigma": sigma.float()[:, None, None, None]}

    def apply(self, clean, params, generator):
        srgb = linear_to_srgb(clean)
        eps = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
        return srgb_to_linear(srgb + params["sigma"] * eps)

    def condition(self, degraded_reference, params):
        return torch.ones_like(degraded_reference) * params["sigma"]
