"""Training losses, each once as a plain function with its reduction spelled out (after BasicSR's loss_util)."""
from __future__ import annotations

import torch

from core.colour import linear_to_srgb


def gamma_correct(x: torch.Tensor, curve: str = "srgb") -> torch.Tensor:
    """The paper's loss compares sRGB-gamma outputs; the authors' code uses x^(1/2.2)."""
    if curve == "srgb":
        return linear_to_srgb(x)
    if curve == "2.2":
        return x.clamp(min=1e-8) ** (1 / 2.2)  # the clamp keeps the gradient finite at 0
    raise ValueError(f"train.gamma is {curve!r}; valid values are srgb, 2.2")


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "l1", curve: str = "srgb"):
    """Eq. 9: mean over all pixels of |gamma(pred) - gamma(target)| (kind="l1") or its square ("mse")."""
    diff = gamma_correct(pred, curve) - gamma_correct(target, curve)
    if kind == "l1":
        return diff.abs().mean()
    if kind == "mse":
        return (diff**2).mean()
    raise ValueError(f"train.loss is {kind!r}; valid values are l1, mse")


def annealing_weight(step: int, total_steps: int, eta: float = 100.0, gamma: float = 0.9998,
                     paper_steps: int = 200_000) -> float:
    """eta * gamma^p (eq. 11), with p rescaled so that a run of total_steps decays as the paper's 2e5 steps."""
    return eta * gamma ** (step * paper_steps / max(total_steps, 1))


def group_outputs(weights: torch.Tensor, samples: torch.Tensor, groups: int) -> torch.Tensor:
    """Eq. 10: [B, N, H, W] weights and samples -> [B, s, H, W], each group's filtered output scaled by s."""
    b, n, h, w = samples.shape
    per_group = (weights * samples).reshape(b, groups, n // groups, h, w).sum(2)
    return groups * per_group


def annealed_loss(out: torch.Tensor, aux: dict, target: torch.Tensor, weight: float, kind: str = "l1",
                  curve: str = "srgb", normalised: bool = False) -> torch.Tensor:
    """Eq. 11: loss of the output + weight * sum over the s groups of the loss of each group's scaled output.

    normalised=True divides that sum by 1 + weight * s: a weighted mean of the s + 1 terms, the same minimiser
    at every step and eq. 11 itself once the weight has decayed. Why: eq. 11's weight starts at eta = 100, so
    the loss, and with it Adam's second-moment estimate, start hundreds of times larger than they end; over
    the paper's 2e5 steps Adam forgets that start, but a run of a few hundred steps compresses the decay into
    its first tens of steps and then moves the weights by a hundredth of what it should for the rest."""
    loss = reconstruction_loss(out, target, kind, curve)
    if weight == 0 or not aux or aux["groups"] < 2:
        return loss
    parts = group_outputs(aux["weights"], aux["samples"], aux["groups"])
    total = loss + weight * sum(reconstruction_loss(parts[:, i:i + 1], target, kind, curve)
                                for i in range(aux["groups"]))
    return total / (1 + weight * aux["groups"]) if normalised else total
