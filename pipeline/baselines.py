"""Stage `baselines@<entry>`: a classical restorer, tuned on the validation split, run on the test split.

An entry names its registered `method` (its own key unless given) and its `degradation` (raw_noise unless named;
the test sets are that degradation's). For each level, the strength multiplier of `baselines.<entry>.grid` with
the best mean PSNR on the validation sequences is kept, then the test sequences are denoised with it. Sequences
are spread over the cores. An entry in table `colour` restores the colour test sequences too, at each level's
tuned strength (baselines/classical.py: channel by channel, or the method's colour form). Writes
data/eval/<entry>/{results.csv, outputs.npz, info.json}.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm import tqdm

from baselines import BASELINES, run_baseline
from core.config import InputError, stage_main
from core.frames import load_shard, save_shard
from core.paths import EVAL
from core.registry import DEGRADATIONS
from core.results import (RESULT_COLUMNS, colour_evaluation, entry_rows, in_colour, named_entry, noisy_levels,
                          score_sequences, write_csv, write_json)
from core.spec import load_spec
import degradations  # noqa: F401  (registers the degradations)


def _denoise_one(job):
    name, frames, level, strength, label, colour = job
    start = time.perf_counter()
    try:
        out = run_baseline(name, frames, level, strength, colour)
    except Exception as e:  # noqa: BLE001 - reported with the sequence it failed on
        return None, f"{name} failed on {label}: {type(e).__name__}: {e}"
    return (out, time.perf_counter() - start), None


def sequence_levels(physics: dict, shard: dict, split: str) -> list[dict]:
    """The level's parameters for each sequence of a split, with any per-sequence parameter the degradation stored
    beside the split as `<name>_<split>` (one row per sequence: blur's oracle PSF)."""
    extra = {k[:-len(split) - 1]: v for k, v in shard.items() if k.endswith(f"_{split}")}
    return [{**physics, **{k: v[i] for k, v in extra.items()}} for i in range(len(shard[split]))]


def denoise_all(name: str, noisy: np.ndarray, levels: list[dict], strength: float, labels: list[str], pool,
                desc: str, colour: bool = False) -> tuple[np.ndarray, float]:
    """Outputs [n, H, W] (colour: [n, 3, H, W]; one level dict per sequence) and the mean seconds per sequence
    on one core."""
    jobs = [(name, f, level, strength, lab, colour) for f, level, lab in zip(noisy, levels, labels)]
    results = list(tqdm(pool.map(_denoise_one, jobs), total=len(jobs), desc=desc, leave=False))
    errors = [err for _, err in results if err]
    if errors:
        raise InputError(errors[0])
    return np.stack([r[0] for r, _ in results]), float(np.mean([r[1] for r, _ in results]))


def tune(name: str, grid: list[float], noisy: np.ndarray, clean_refs: np.ndarray, level: list[dict], labels, pool,
         level_name: str) -> tuple[float, dict]:
    """The grid value with the best mean validation PSNR, and every value's PSNR."""
    if len(grid) == 1:
        return grid[0], {}
    psnrs = {}
    for s in grid:
        out, _ = denoise_all(name, noisy, level, s, labels, pool, f"tune {name} {level_name} {s}")
        psnrs[s] = float(score_sequences(out, clean_refs)[:, 0].mean())
    return max(psnrs, key=psnrs.get), psnrs


def sequence_labels(shard: dict) -> list[str]:
    if "video" not in shard:  # test images (study gauss)
        return [f"test image {i}" for i in range(len(shard["frames"]))]
    return [f"{v} scene {s} frame {f}" for v, s, f in zip(shard["video"], shard["scene"], shard["start"])]


@stage_main
def main(argv: list[str] | None = None) -> None:
    spec = load_spec()
    name, entry = named_entry(spec, "baselines", sys.argv[1:] if argv is None else argv, "baselines")
    method = entry.method or name
    if method not in BASELINES:
        raise InputError(f"baselines.{name} names no registered method; registered: {', '.join(sorted(BASELINES))}")
    degradation = DEGRADATIONS.build(entry.degradation)
    began = time.perf_counter()
    test, val = load_shard(degradation.clean_test), load_shard(degradation.val_set)
    tau, val_tau = test["frames"].shape[1] // 2, val["frames"].shape[1] // 2
    rows, outputs, shards, info = [], {}, {}, {"label": entry.label, "tuned": {}, "validation_psnr": {}}
    levels = noisy_levels(degradation.test_folder)
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for path in levels:
            level, noisy = path.stem, load_shard(path)
            if in_colour(entry):  # table colour reads the same shards again
                shards[level] = noisy
            physics = degradation.stored_level(noisy)
            best, psnrs = tune(method, entry.grid, noisy["val"], val["frames"][:, val_tau],
                               sequence_levels(physics, noisy, "val"), sequence_labels(val), pool, level)
            out, seconds = denoise_all(method, noisy["test"], sequence_levels(physics, noisy, "test"), best,
                                       sequence_labels(test), pool, f"{name} {level}")
            scores = score_sequences(out, test["frames"][:, tau])
            rows += entry_rows(scores, test["subset"], entry, False, level)
            outputs[level] = out.astype(np.float32)
            info["tuned"][level] = best
            info["validation_psnr"][level] = psnrs
            info["megapixels_per_second"] = out[0].size / 1e6 / max(seconds, 1e-9)
        if in_colour(entry):
            def restore(level: str, noisy: dict) -> np.ndarray:
                n = len(noisy["test_colour"])
                return denoise_all(method, noisy["test_colour"], [degradation.stored_level(noisy)] * n,
                                   info["tuned"][level], sequence_labels(test), pool, f"{name} {level} colour",
                                   colour=True)[0]

            colour_rows, colour_outputs = colour_evaluation(restore, entry, shards, False)
            rows += colour_rows
            outputs |= colour_outputs
    folder = EVAL / name
    info["seconds"] = round(time.perf_counter() - began, 1)
    save_shard(folder / "outputs.npz", **outputs)
    write_json(info, folder / "info.json")
    write_csv(rows, RESULT_COLUMNS, folder / "results.csv")


if __name__ == "__main__":
    main()
