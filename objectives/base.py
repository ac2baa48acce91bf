"""The objective interface the training stage calls, the same for every regime.

    objective = objective_for(entry, spec.train, degradation)   # objectives/__init__.py
    objective.check(model)                      # a regime that needs a kind of network (a blind spot) checks it
    batch |= objective.draw(batch)              # on the host, where the batch is drawn
    loss = objective.loss(model, batch, step, steps)   # on the model's device

batch: what core.training_data builds: "clean" [B, T, H, W], "input" (degraded), "condition" (noise map or
None), "params" (the degradation's draws), "generator" (the step's random stream, for further draws), and what
the objective's `draw` adds from that stream (a second noisy copy, a mask): drawn before the batch moves to the
model's device, so that no loss makes a tensor on the host or copies one per sample.
"""
from __future__ import annotations

import torch

from core.spec import Train


class Objective:
    registered_name = "?"
    needs_clean = True         # reads the clean frames (False: trains on noisy frames alone, a user's footage)
    needs_degradation = False  # draws more degraded copies itself (Noise2Noise's target)
    single_image = False       # trains on one noisy frame (no temporal neighbours to use)
    arch: str | None = None    # the one model arch it trains (HQ-SSL: the blind-spot network)

    def __init__(self, train: Train, degradation=None):
        self.kind, self.curve = train.loss, train.gamma
        if self.needs_degradation and (degradation is None or not degradation.draws):
            raise ValueError(f"{self.registered_name} draws independent degraded copies itself: it needs a "
                             "degradation that draws them (not frames that are already noisy)")
        self.degradation = degradation

    def check(self, model: torch.nn.Module) -> None:
        """Raise ValueError when the objective cannot train this network."""

    def draw(self, batch: dict) -> dict:
        """The step's further random draws the loss needs, from batch["generator"] on the host."""
        return {}

    def loss(self, net, batch: dict, step: int, steps: int) -> torch.Tensor:
        raise NotImplementedError
