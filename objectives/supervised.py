"""Supervised training on clean targets: the paper's L1 on gamma-corrected outputs (eq. 9), and the same with
the annealing term of the video kernels (eq. 10-11)."""
from __future__ import annotations

from core.registry import OBJECTIVES
from core.frames import reference
from objectives.base import Objective
from objectives.losses import annealed_loss, annealing_weight, reconstruction_loss


@OBJECTIVES.register("supervised")
class Supervised(Objective):
    """Noise2Clean: the denoised reference frame against the clean one."""

    def loss(self, net, batch, step, steps):
        out = net(batch["input"], batch["condition"])
        return reconstruction_loss(out, reference(batch["clean"]), self.kind, self.curve)


@OBJECTIVES.register("annealed")
class Annealed(Objective):
    """Supervised, plus eta*gamma^p times the loss of each sample group's output (eq. 11): early in training
    every frame's samples must denoise alone, which keeps the 3D kernels from collapsing onto one frame."""

    def __init__(self, train, degradation=None):
        super().__init__(train, degradation)
        self.annealing = train.annealing.model_dump(exclude={"normalised"})
        self.normalised = train.annealing.normalised

    def loss(self, net, batch, step, steps):
        out, aux = net(batch["input"], batch["condition"], return_aux=True)
        weight = annealing_weight(step, steps, **self.annealing)
        return annealed_loss(out, aux, reference(batch["clean"]), weight, self.kind, self.curve,
                             self.normalised)
