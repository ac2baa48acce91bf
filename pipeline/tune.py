"""Stage `tune@<model>`: the model's peak learning rate, chosen on the validation split from the one grid that
every learned model shares (`train.lr_grid`): a short run (`train.tune_steps` steps, the same recipe) per rate,
scored by the mean PSNR of the validation sequences at every test level of the model's degradation. The same
procedure for every model, as the classical methods' strengths are tuned on the same split. The short runs use
`train.tune_crop` crops and run side by side, one process and one thread per core: these small models gain
little from a second thread, and two processes nearly double the throughput.

Writes data/tune/<model>/lr.json (the chosen rate: what training reads) and grid.json (every rate's PSNR).
"""
from __future__ import annotations

import copy
import multiprocessing
import os
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

import degradations  # noqa: F401  (registers the degradations)
from core.config import InputError, load_params, stage_main
from core.frames import load_shard
from core.registry import DEGRADATIONS
from core.results import named_entry, score_sequences, write_json
from engine.infer import run_model
from engine.train import Diverged, train
from models.checkpoint import load_model

OUT = Path("data/tune")


def validation_sets(degradation, clean: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The validation sequences degraded at each test level of the degradation, seeded (not `noise.level`:
    a model is tuned once, whatever levels a run reports)."""
    return {lv: degradation.test_set(clean, lv, seed * 1_000_003 + zlib.crc32(f"tune/{lv}".encode()))
            for lv in degradation.levels}


def score_rate(name: str, params: dict, lr: float, degradation, val: np.ndarray, sets: dict) -> float:
    """Mean validation PSNR of a short run at peak rate lr; a run that diverges scores -inf."""
    short = copy.deepcopy(params)
    short["train"].update(steps=params["train"]["tune_steps"], crop=params["train"]["tune_crop"],
                          threads=1 if workers(params) > 1 else params["train"]["threads"])
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        try:
            train(name, short, Path(tmp), Path(tmp) / "checkpoint.pt", lr)
        except Diverged:
            return float("-inf")
        model = load_model(Path(tmp) / "model.pt")
    tau = val.shape[1] // 2
    return float(np.mean([score_sequences(run_model(model, noisy, degradation, degradation.level(lv))[0],
                                          val[:, tau])[:, 0].mean() for lv, noisy in sets.items()]))


def workers(params: dict) -> int:
    return min(len(params["train"]["lr_grid"]), len(os.sched_getaffinity(0)))


def _score(job) -> float:
    name, params, lr, degradation_name, val, sets = job
    import degradations  # noqa: F401, F811  (a spawned worker registers them anew)

    return score_rate(name, params, lr, DEGRADATIONS.build(degradation_name), val, sets)


@stage_main
def main(argv: list[str] | None = None) -> None:
    params = load_params()
    name, entry = named_entry(params, "models", sys.argv[1:] if argv is None else argv, "tune")
    grid = [float(g) for g in params["train"]["lr_grid"]]
    psnr = {}
    if len(grid) > 1:
        OUT.mkdir(parents=True, exist_ok=True)
        degradation = DEGRADATIONS.build(entry.get("degradation", "raw_noise"))
        val = load_shard("data/scenes/val.npz")["frames"]
        sets = validation_sets(degradation, val, params["train"]["seed"])
        jobs = [(name, params, lr, entry.get("degradation", "raw_noise"), val, sets) for lr in grid]
        with ProcessPoolExecutor(workers(params), mp_context=multiprocessing.get_context("spawn")) as pool:
            psnr = dict(zip(grid, pool.map(_score, jobs)))
    if psnr and max(psnr.values()) == float("-inf"):
        raise InputError(f"every rate of train.lr_grid made {name} diverge; add smaller rates to the grid")
    best = max(psnr, key=psnr.get) if psnr else grid[0]
    write_json({"lr": best}, OUT / name / "lr.json")
    write_json({"lr": best, "tune_steps": params["train"]["tune_steps"],
                "validation_psnr": {f"{lr:g}": p for lr, p in psnr.items()}}, OUT / name / "grid.json")


if __name__ == "__main__":
    main()
