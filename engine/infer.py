"""Batched inference of a trained model on test sequences, as evaluation and learning-rate tuning run it: inputs
go to the model's device, outputs come back as host arrays."""
from __future__ import annotations

import time

import numpy as np
import torch

from degradations.base import Degradation, reference

CHUNK = 4


def model_input(model, sequences: np.ndarray) -> torch.Tensor:
    """The frames a model takes from 2*tau+1-frame sequences: all of them, or the reference alone."""
    t = sequences.shape[1]
    half = model.frames // 2
    return torch.from_numpy(np.ascontiguousarray(sequences[:, t // 2 - half:t // 2 + half + 1]))


def on(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


@torch.no_grad()
def run_model(model, sequences: np.ndarray, degradation: Degradation, level: dict):
    """Restored reference frames [n, H, W], seconds per sequence, and the aux dicts' diagnostic keys."""
    frames = model_input(model, sequences)
    outs, auxes, seconds = [], [], 0.0
    for i in range(0, len(frames), CHUNK):
        x = frames[i:i + CHUNK]
        condition = degradation.condition(reference(x), level)
        start = time.perf_counter()
        out, aux = model(x.to(model.device), on(condition, model.device), return_aux=True)
        outs.append(out[:, 0].cpu().numpy())  # (waits for the device: the time is the model's)
        seconds += time.perf_counter() - start
        auxes.append({k: aux[k].cpu() for k in model.diagnostic_keys})
    return np.concatenate(outs), seconds / len(frames), auxes


def receptive_field(model, sequence: np.ndarray, degradation: Degradation, level: dict,
                    mass: float = 0.95) -> dict:
    """The measured receptive field of a model at the centre of one degraded input [T, H, W]: the gradient of the
    centre output pixel, less the same input pixel (the residual models' identity path, which would otherwise
    dominate), with respect to every input pixel, summarised as the half-side of the smallest square around the
    centre that holds `mass` of its absolute sum, and the half-side of the square holding every input pixel with
    a gradient above 1e-4 of the largest (px)."""
    x = model_input(model, sequence[None]).to(model.device).requires_grad_(True)
    condition = degradation.condition(reference(x), level)
    out = model(x, condition)
    h, w = out.shape[-2:]
    (out[0, 0, h // 2, w // 2] - reference(x)[0, 0, h // 2, w // 2]).backward()
    g = x.grad.abs().sum(1)[0].cpu().numpy().astype(np.float64)
    cy, cx = h // 2, w // 2
    yy, xx = np.indices(g.shape)
    chebyshev = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    if g.max() == 0:  # the output does not depend on any other pixel (e.g. an untrained correction)
        return {f"radius_{round(mass * 100)}": 0, "extent": 0, "frame": [int(h), int(w)]}
    order = np.argsort(chebyshev, axis=None, kind="stable")
    cumulative = np.cumsum(g.ravel()[order]) / g.sum()
    radius = int(chebyshev.ravel()[order][min(np.searchsorted(cumulative, mass), g.size - 1)])
    extent = int(chebyshev[g > 1e-4 * g.max()].max())
    return {f"radius_{round(mass * 100)}": radius, "extent": extent, "frame": [int(h), int(w)]}
