"""The objective interface the training stage calls, the same for every regime.

    objective = OBJECTIVES.build(name, train=params["train"])
    net = objective.wrap(model)                 # a regime that changes the network (a blind spot) wraps it
    loss = objective.loss(net, batch, step, steps)

batch: what core.training_data builds: "clean" [B, T, H, W], "input" (degraded), "condition" (noise map or
None), "params" (the degradation's draws), "generator" (the step's random stream, for further draws).
"""
from __future__ import annotations

import torch


class Objective:
    registered_name = "?"

    def __init__(self, train: dict):
        self.kind, self.curve = train["loss"], train["gamma"]

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def loss(self, net, batch: dict, step: int, steps: int) -> torch.Tensor:
        raise NotImplementedError
