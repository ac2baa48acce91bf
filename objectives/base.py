"""The objective interface the training stage calls, the same for every regime.

    objective = objective_for(entry, params["train"], degradation)   # objectives/__init__.py
    net = objective.wrap(model)                 # a regime that changes the network (a blind spot) wraps it
    loss = objective.loss(net, batch, step, steps)

batch: what core.training_data builds: "clean" [B, T, H, W], "input" (degraded), "condition" (noise map or
None), "params" (the degradation's draws), "generator" (the step's random stream, for further draws).
"""
from __future__ import annotations

import torch


class Objective:
    registered_name = "?"
    needs_clean = True         # reads the clean frames (False: trains on noisy frames alone, a user's footage)
    needs_degradation = False  # draws more degraded copies itself (Noise2Noise's target)
    single_image = False       # trains on one noisy frame (no temporal neighbours to use)
    arch: str | None = None    # the one model arch it trains (HQ-SSL: the blind-spot network)

    def __init__(self, train: dict, degradation=None):
        self.kind, self.curve = train["loss"], train["gamma"]
        if self.needs_degradation and (degradation is None or not degradation.draws):
            raise ValueError(f"{self.registered_name} draws independent degraded copies itself: it needs a "
                             "degradation that draws them (not frames that are already noisy)")
        self.degradation = degradation

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def loss(self, net, batch: dict, step: int, steps: int) -> torch.Tensor:
        raise NotImplementedError
