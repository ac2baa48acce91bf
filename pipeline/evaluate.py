"""Stage `evaluate@<model>`: a trained model on every test subset at every level in data/noisy.

Writes data/eval/<model>/: results.csv (PSNR/SSIM per subset), outputs.npz (the denoised test frames), info.json
(speed; for 3D kernels the share of samples per frame index, Figure 9, and a few learned kernels, Figure 10),
and motion.csv (Figure 8: MSE on each frame-rate subset) for the models marked `motion: true`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from models.deformable import DeformableKernel
from pipeline.config import load_params, stage_main
from pipeline.frames import load_shard, save_shard
from pipeline.metrics import srgb_mse
from pipeline.noise_model import noise_map
from pipeline.results import (EVAL, MOTION_COLUMNS, RESULT_COLUMNS, named_entry, noisy_levels, result_rows,
                              score_sequences, write_csv, write_json)
from pipeline.train import load_trained

CHUNK = 4
KERNEL_PIXELS = ((0.3, 0.3), (0.5, 0.5), (0.7, 0.6))  # where Figure 10 looks, as fractions of (y, x)


def model_input(model, sequences: np.ndarray) -> torch.Tensor:
    """The frames a model takes from 2*tau+1-frame sequences: all of them, or the reference alone."""
    t = sequences.shape[1]
    half = model.frames // 2
    return torch.from_numpy(np.ascontiguousarray(sequences[:, t // 2 - half:t // 2 + half + 1]))


@torch.no_grad()
def run_model(model, sequences: np.ndarray, sigma_s: float, sigma_r: float, keep_aux: bool = False):
    """Denoised reference frames [n, H, W], seconds per sequence, and the aux dicts when asked."""
    frames = model_input(model, sequences)
    outs, auxes, seconds = [], [], 0.0
    for i in range(0, len(frames), CHUNK):
        x = frames[i:i + CHUNK]
        half = x.shape[1] // 2
        nmap = None if model.blind else noise_map(x[:, half:half + 1], sigma_s, sigma_r)
        start = time.perf_counter()
        out, aux = model(x, nmap, return_aux=True)
        seconds += time.perf_counter() - start
        outs.append(out[:, 0].numpy())
        if keep_aux:
            auxes.append({k: v for k, v in aux.items() if k in ("positions", "weights")})
    return np.concatenate(outs), seconds / len(frames), auxes


def temporal_shares(auxes: list[dict], frames: int) -> list[float]:
    """Figure 9: the share of all samples that land nearest each frame index."""
    t = torch.cat([a["positions"][..., 2].flatten() for a in auxes]).round().clamp(0, frames - 1).long()
    counts = torch.bincount(t, minlength=frames).double()
    return (counts / counts.sum()).tolist()


def kernel_examples(aux: dict) -> list[dict]:
    """Figure 10: sample positions and weights at a few pixels of the first test sequence."""
    pos, w = aux["positions"][0], aux["weights"][0]  # [N, H, W, 3], [N, H, W]
    h, wd = w.shape[-2:]
    out = []
    for fy, fx in KERNEL_PIXELS:
        y, x = int(fy * (h - 1)), int(fx * (wd - 1))
        out.append({"pixel": [x, y], "positions": pos[:, y, x].tolist(), "weights": w[:, y, x].tolist()})
    return out


@stage_main
def main(argv: list[str] | None = None) -> None:
    params = load_params()
    name, entry = named_entry(params, "models", sys.argv[1:] if argv is None else argv, "evaluate")
    began = time.perf_counter()
    model, trained = load_trained(Path("data/models") / name / "model.pt")
    test = load_shard("data/scenes/test.npz")
    tau = test["frames"].shape[1] // 2
    levels = noisy_levels()
    sampler = isinstance(model, DeformableKernel)
    rows, outputs = [], {}
    info: dict = {"label": entry["label"], "parameters": model.parameter_count(),
                  "train_seconds": trained.get("seconds", 0.0)}
    for path in levels:
        level, noisy = path.stem, load_shard(path)
        ss, sr = float(noisy["sigma_s"]), float(noisy["sigma_r"])
        out, seconds, auxes = run_model(model, noisy["test"], ss, sr, keep_aux=sampler)
        scores = score_sequences(out, test["frames"][:, tau])
        rows += result_rows(scores, test["subset"], entry["tables"], entry["label"], model.blind, level)
        if entry.get("table4_label"):
            rows += result_rows(scores, test["subset"], [4], entry["table4_label"], model.blind, level)
        outputs[level] = out.astype(np.float32)
        info["megapixels_per_second"] = out[0].size / 1e6 / max(seconds, 1e-9)
        if sampler:
            info.setdefault("temporal_shares", {})[level] = temporal_shares(auxes, model.frames)
            info.setdefault("kernels", {})[level] = kernel_examples(auxes[0])
    folder = EVAL / name
    if entry.get("motion"):
        # Figure 8 at one level: low when the noise stage made it, else the level there is.
        path = next((p for p in levels if p.stem == "low"), levels[0])
        noisy, clean = load_shard(path), load_shard("data/motion/subsets.npz")
        motion = []
        for key in sorted((k for k in clean if k.startswith("fps_")), key=lambda k: -int(k[4:])):
            out, _, _ = run_model(model, noisy[key], float(noisy["sigma_s"]), float(noisy["sigma_r"]))
            mse = np.mean([srgb_mse(o, c) for o, c in zip(out, clean[key][:, tau])])
            motion.append({"method": entry["label"], "fps": int(key[4:]), "mse": mse})
        info["motion_level"] = path.stem
        write_csv(motion, MOTION_COLUMNS, folder / "motion.csv")
    save_shard(folder / "outputs.npz", **outputs)
    info["seconds"] = round(time.perf_counter() - began, 1)
    write_json(info, folder / "info.json")
    write_csv(rows, RESULT_COLUMNS, folder / "results.csv")


if __name__ == "__main__":
    main()
