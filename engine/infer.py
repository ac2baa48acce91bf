"""Batched inference of a trained model on test sequences, as evaluation and learning-rate tuning run it: inputs
go to the model's device, outputs come back as host arrays."""
from __future__ import annotations

import time

import numpy as np
import torch

from core.metrics import srgb_mse
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
        auxes.append({k: on(aux[k], torch.device("cpu")) for k in model.diagnostic_keys})
    return np.concatenate(outs), seconds / len(frames), auxes


def motion_curve(model, noisy: dict[str, np.ndarray], clean: dict[str, np.ndarray], degradation: Degradation,
                 level: dict) -> dict[int, float]:
    """Figure 8: the sRGB MSE of the restored reference frames on each frame-rate subset (fps_<n> of the motion
    stage's shard and of the test set of one level), by frame rate, highest first."""
    curve = {}
    for key in sorted((k for k in clean if k.startswith("fps_")), key=lambda k: -int(k[4:])):
        out = run_model(model, noisy[key], degradation, level)[0]
        tau = clean[key].shape[1] // 2
        curve[int(key[4:])] = float(np.mean([srgb_mse(o, c) for o, c in zip(out, clean[key][:, tau])]))
    return curve


FIELD_PIXELS = ((0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))  # fractions of (y, x)


def field_at(g: np.ndarray, cy: int, cx: int, mass: float) -> tuple[int, int]:
    """(radius, extent) of one gradient map around (cy, cx): the half-side of the smallest square holding `mass`
    of its absolute sum, and of the square holding every pixel above 1e-4 of the largest (px); (0, 0) where the
    output depends on no other pixel (e.g. an untrained correction)."""
    if g.max() == 0:
        return 0, 0
    yy, xx = np.indices(g.shape)
    chebyshev = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    order = np.argsort(chebyshev, axis=None, kind="stable")
    cumulative = np.cumsum(g.ravel()[order]) / g.sum()
    radius = int(chebyshev.ravel()[order][min(np.searchsorted(cumulative, mass), g.size - 1)])
    return radius, int(chebyshev[g > 1e-4 * g.max()].max())


def receptive_field(model, sequences: np.ndarray, degradation: Degradation, level: dict, mass: float = 0.95,
                    inputs: int = 4) -> dict:
    """The measured receptive field of a model: at each pixel of FIELD_PIXELS of each of the first `inputs`
    degraded inputs [N, T, H, W] (or one [T, H, W]), the gradient of the output pixel, less the same input pixel
    (the residual models' identity path, which would otherwise dominate), with respect to every input pixel,
    summarised by field_at. Returns the median radius holding `mass` of the gradient, its range over the
    pixels and inputs, the median extent and how many fields were measured."""
    sequences = sequences[None] if sequences.ndim == 3 else sequences
    radii, extents = [], []
    for sequence in sequences[:inputs]:
        x = model_input(model, sequence[None]).to(model.device).requires_grad_(True)
        out = model(x, degradation.condition(reference(x), level))
        h, w = out.shape[-2:]
        for fy, fx in FIELD_PIXELS:
            cy, cx = int(fy * (h - 1)), int(fx * (w - 1))
            grad, = torch.autograd.grad(out[0, 0, cy, cx] - reference(x)[0, 0, cy, cx], x, retain_graph=True)
            radius, extent = field_at(grad.abs().sum(1)[0].cpu().numpy().astype(np.float64), cy, cx, mass)
            radii.append(radius)
            extents.append(extent)
    key = f"radius_{round(mass * 100)}"
    return {key: float(np.median(radii)), f"{key}_range": [min(radii), max(radii)],
            "extent": float(np.median(extents)), "measured": len(radii), "frame": [int(h), int(w)]}
