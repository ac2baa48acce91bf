"""Batched inference of a trained model on test sequences, as evaluation and learning-rate tuning run it."""
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


@torch.no_grad()
def run_model(model, sequences: np.ndarray, degradation: Degradation, level: dict):
    """Restored reference frames [n, H, W], seconds per sequence, and the aux dicts' diagnostic keys."""
    frames = model_input(model, sequences)
    outs, auxes, seconds = [], [], 0.0
    for i in range(0, len(frames), CHUNK):
        x = frames[i:i + CHUNK]
        condition = degradation.condition(reference(x), level)
        start = time.perf_counter()
        out, aux = model(x, condition, return_aux=True)
        seconds += time.perf_counter() - start
        outs.append(out[:, 0].numpy())
        auxes.append({k: aux[k] for k in model.diagnostic_keys})
    return np.concatenate(outs), seconds / len(frames), auxes
