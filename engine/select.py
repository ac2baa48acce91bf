"""Training at every rate of the shared grid and keeping the best on the validation split: the one tuning
procedure every learned model goes through, as the classical methods' strengths are tuned on the same split.
Rates within `train.lr_tie_db` of the best are a tie, which the lowest of them wins (`chosen_rate`).

Each rate of `train.lr_grid` trains for the full budget (a short run favours rates that barely move the model
from its start). `train.rate_workers` runs that many rates side by side, one thread each: small convolutions
leave a second thread of one process half idle (docs/recipe.md). Each run is scored by the mean PSNR of the
validation sequences at every test level of the model's degradation; the best run is the model.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from core.config import InputError
from core.frames import load_shard
from core.results import score_sequences, write_json
from core.seeds import derived_seed
from core.spec import ModelEntry, Spec, Train
from engine.infer import run_model
from engine.run import Run
from engine.train import Diverged, train
from models.checkpoint import load_model
from models.compute import device


def validation_sets(degradation, clean: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """The validation sequences degraded at each test level of the degradation, seeded (not `noise.level`:
    a model is tuned once, whatever levels a run reports)."""
    return {lv: degradation.test_set(clean, lv, derived_seed(seed, f"tune/{lv}"))
            for lv in degradation.levels}


def validation_psnr(model_file: Path, entry: ModelEntry, train: Train) -> float:
    from degradations import degradation_for  # (registers them)

    d = degradation_for(entry)
    val = load_shard(d.val_set)["frames"]
    model, tau, seed = load_model(model_file, device(train.device)), val.shape[1] // 2, train.seed
    return float(np.mean([score_sequences(run_model(model, noisy, d, d.level(lv))[0], val[:, tau])[:, 0].mean()
                          for lv, noisy in validation_sets(d, val, seed).items()]))


def rate_folder(out_dir: Path, lr: float) -> Path:
    return out_dir / "rates" / f"{lr:g}"


def _train_one(job: tuple[Run, Path, Path]) -> float:
    """Train one run of the grid and score it; -inf when the run diverges."""
    run, out_dir, checkpoints = job
    folder = rate_folder(out_dir, run.lr)
    try:
        train(run, folder, checkpoints / f"{run.name}@{run.lr:g}.pt")
    except Diverged:
        return float("-inf")
    if int(os.environ.get("RANK", "0")) != 0:
        return 0.0  # under torchrun, rank 0 writes and scores the model
    return validation_psnr(folder / "model.pt", run.entry, run.train)


def workers(train: Train) -> int:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1  # under torchrun the processes already share every step
    return max(1, min(len(train.lr_grid), train.rate_workers))


def chosen_rate(psnr: dict[float, float], tie_db: float) -> float:
    """The lowest rate whose validation PSNR is within tie_db of the best (the one-standard-error rule of model
    selection: among scores the noise cannot tell apart, the most conservative): a difference below the seed
    spread of validation is a coin toss, and the higher rate is the less stable (docs/recipe.md)."""
    best = max(psnr.values())
    return min(lr for lr, p in psnr.items() if p >= best - tie_db)


def train_and_select(name: str, spec: Spec, out_dir: Path, checkpoints: Path) -> dict:
    """Train `name` at every rate of the grid, keep the best on validation as out_dir/model.pt (with its
    dvclive folder as out_dir/live) and write out_dir/tune.json; returns what tune.json holds."""
    grid = [float(g) for g in spec.train.lr_grid]
    n = workers(spec.train)
    runs = [Run.of(spec, name, lr) for lr in grid]
    jobs = [(run.replace(threads=1) if n > 1 else run, out_dir, checkpoints) for run in runs]
    if n > 1:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
            scores = list(pool.map(_train_one, jobs))
    else:
        scores = [_train_one(job) for job in jobs]
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    psnr = dict(zip(grid, scores))
    if max(scores) == float("-inf"):
        raise InputError(f"every rate of train.lr_grid made {name} diverge; add smaller rates to the grid")
    best = chosen_rate(psnr, spec.train.lr_tie_db)
    shutil.copy(rate_folder(out_dir, best) / "model.pt", out_dir / "model.pt")
    shutil.rmtree(out_dir / "live", ignore_errors=True)
    shutil.copytree(rate_folder(out_dir, best) / "live", out_dir / "live")
    shutil.rmtree(out_dir / "rates")
    tuned = {"lr": best, "validation_psnr": {f"{lr:g}": p for lr, p in psnr.items()}}
    write_json(tuned, out_dir / "tune.json")
    return tuned
