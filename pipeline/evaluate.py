"""Stage `evaluate@<model>`: a trained model on every test subset at every level of its degradation's test sets
(data/noisy for raw noise, data/gauss for study gauss).

A model in table `colour` restores the colour test sequences too, one channel at a time (Appendix B).
Writes data/eval/<model>/: results.csv (PSNR/SSIM per subset), outputs.npz (the restored test frames), info.json
(speed, peak memory of the stage's process, what the model tells of itself: for deformable kernels where their
samples land; the measured receptive field for entries with `receptive_field: true`), and motion.csv
(Figure 8: MSE on each frame-rate subset) for the models marked `motion: true`.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from core.colour import channels_as_sequences, frames_as_colour
from core.config import stage_main
from core.frames import load_shard, save_shard
from core.paths import EVAL, MOTION_SUBSETS, model_folder
from core.results import (MOTION_COLUMNS, RESULT_COLUMNS, colour_evaluation, entry_rows, figure8_level, in_colour,
                          named_entry, noisy_levels, score_sequences, write_csv, write_json)
from core.spec import load_spec
from degradations import degradation_for
from engine.infer import motion_curve, receptive_field, run_model
from models.checkpoint import load_model, start_model
from models.compute import device


def evaluate_levels(model, entry, degradation, levels: list[Path], info: dict) -> tuple[list[dict], dict]:
    """The model on the grey test sequences of every level (and their colour planes, for an entry in table
    colour): results rows and restored frames by level; its speed and diagnostics go into `info`."""
    test = load_shard(degradation.clean_test)
    tau = test["frames"].shape[1] // 2
    rows, outputs, shards = [], {}, {}
    for path in levels:
        level, noisy = path.stem, load_shard(path)
        if in_colour(entry):  # table colour reads the same shards again
            shards[level] = noisy
        out, seconds, auxes = run_model(model, noisy["test"], degradation, degradation.stored_level(noisy))
        scores = score_sequences(out, test["frames"][:, tau])
        rows += entry_rows(scores, test["subset"], entry, model.blind, level)
        outputs[level] = out.astype(np.float32)
        info["megapixels_per_second"] = out[0].size / 1e6 / max(seconds, 1e-9)
        for key, value in model.diagnostics(auxes).items():
            info.setdefault(key, {})[level] = value
    if in_colour(entry):
        def restore(level: str, noisy: dict) -> np.ndarray:
            grey = channels_as_sequences(noisy["test_colour"])
            return frames_as_colour(run_model(model, grey, degradation, degradation.stored_level(noisy))[0])

        colour_rows, colour_outputs = colour_evaluation(restore, entry, shards, model.blind)
        rows += colour_rows
        outputs |= colour_outputs
    return rows, outputs


def figure8(model, entry, degradation, levels: list[Path]) -> tuple[str, list[dict]]:
    """Figure 8 at one level (low when the noise stage made it, else the level there is): that level, and the
    MSE rows by frame rate."""
    path = figure8_level(levels)
    noisy = load_shard(path)
    curve = motion_curve(model, noisy, load_shard(MOTION_SUBSETS), degradation, degradation.stored_level(noisy))
    return path.stem, [{"method": entry.label, "fps": fps, "mse": mse} for fps, mse in curve.items()]


@stage_main
def main(argv: list[str] | None = None) -> None:
    spec = load_spec()
    name, entry = named_entry(spec, "models", sys.argv[1:] if argv is None else argv, "evaluate")
    began = time.perf_counter()
    model = load_model(model_folder(name) / "model.pt", device(spec.train.device))
    degradation = degradation_for(entry)
    tuned = json.loads((model_folder(name) / "tune.json").read_text())
    levels = noisy_levels(degradation.test_folder)
    info: dict = {"label": entry.label, "parameters": model.parameter_count(),
                  "train_seconds": tuned["kept_cpu_seconds"], "tune_seconds": tuned["tuning_cpu_seconds"],
                  "lr": tuned["lr"], "rung_step": tuned["rung_step"], "validation_psnr_by_lr": tuned["validation_psnr"],
                  "kept_validation_psnr": tuned["kept_validation_psnr"], "precision": model.precision}
    rows, outputs = evaluate_levels(model, entry, degradation, levels, info)
    folder = EVAL / name
    if entry.receptive_field:  # study deblur: how far an output pixel sees, trained and at its seeded start
        first = load_shard(levels[0])
        start = start_model(model_folder(name) / "model.pt", spec.train.seed, model.device)
        for key, net in (("receptive_field", model), ("receptive_field_untrained", start)):
            info[key] = receptive_field(net, first["test"], degradation, degradation.stored_level(first))
    if entry.motion:
        info["motion_level"], motion = figure8(model, entry, degradation, levels)
        write_csv(motion, MOTION_COLUMNS, folder / "motion.csv")
    save_shard(folder / "outputs.npz", **outputs)
    info["seconds"] = round(time.perf_counter() - began, 1)
    info["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # the whole process
    write_json(info, folder / "info.json")
    write_csv(rows, RESULT_COLUMNS, folder / "results.csv")

if __name__ == "__main__":
    main()
