"""Rate selection by successive halving: the one tuning procedure every learned model goes through, as the
classical methods' strengths are tuned on the same split. Every rate of `train.lr_grid` trains the first
`train.rung` share of the steps (of the full run's schedule), side by side in `train.rate_workers` processes of
one thread each (two processes use two cores better than two threads of one: docs/recipe.md); the best of them
on validation (`chosen_rate`) then continues from its checkpoint to the end of the budget on `train.threads`
threads, and that run is the model. Tuning thus costs rung x grid + (1 - rung) runs instead of grid runs; how
often the rung picks the rate the full grid picks is measured in docs/recipe.md. Each snapshot is scored by the
mean PSNR of the validation sequences at every test level of the model's degradation. `train.rung: 1` trains
every rate the whole budget (the procedure before), as a run under torchrun does (its ranks would have to agree
on the rung's winner).
"""
from __future__ import annotations

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
from engine.batches import process_context
from engine.infer import run_model
from engine.run import Run
from engine.train import Diverged, train
from models.checkpoint import load_model
from models.compute import device

# What the rate workers' fork server imports once, each worker forked from it with them already loaded; torch._dynamo
# is what a process's first Adam imports (about 1 s: `python -m tools.benchmark startup`).
FORKSERVER_PRELOAD = ("engine.select", "degradations", "objectives", "torch._dynamo")


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


def checkpoint_of(checkpoints: Path, name: str, lr: float) -> Path:
    return checkpoints / f"{name}@{lr:g}.pt"


def _train_one(job: tuple[Run, Path, Path, int | None]) -> tuple[float, dict]:
    """Train one run of the grid, to the rung (stop) or to the end, and score what it would save there;
    (-inf, {}) when the run diverges."""
    run, out_dir, checkpoints, stop = job
    folder = rate_folder(out_dir, run.lr)
    try:
        summary = train(run, folder, checkpoint_of(checkpoints, run.name, run.lr), stop_after=stop,
                        snapshot=None if stop is None else folder / "model.pt")
    except Diverged:
        return float("-inf"), {}
    if int(os.environ.get("RANK", "0")) != 0:
        return 0.0, summary  # under torchrun, rank 0 writes and scores the model
    return validation_psnr(folder / "model.pt", run.entry, run.train), summary


def workers(train: Train) -> int:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1  # under torchrun the processes already share every step
    return max(1, min(len(train.lr_grid), train.rate_workers))


def rung_step(train: Train, rates: int) -> int | None:
    """The step at which the grid is cut to one rate; None when every rate trains the whole budget."""
    if rates == 1 or train.rung >= 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return None
    return min(train.steps - 1, max(1, round(train.rung * train.steps)))


def chosen_rate(psnr: dict[float, float], tie_db: float) -> float:
    """The lowest rate whose validation PSNR is within tie_db of the best (the one-standard-error rule of model
    selection: among scores the noise cannot tell apart, the most conservative): a difference below the seed
    spread of validation is a coin toss, and the higher rate is the less stable (docs/recipe.md)."""
    best = max(psnr.values())
    return min(lr for lr, p in psnr.items() if p >= best - tie_db)


def train_grid(jobs: list, n: int) -> list[tuple[float, dict]]:
    if n == 1:
        return [_train_one(job) for job in jobs]
    # A fork server imports torch and the training code once and forks each worker from it: spawned workers
    # import them again each (2-3 s a worker).
    context = process_context()
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    with ProcessPoolExecutor(n, mp_context=context) as pool:
        return list(pool.map(_train_one, jobs))


def cpu_seconds(summary: dict) -> float:
    return summary.get("seconds", 0.0) * summary.get("threads", 1)


def train_and_select(name: str, spec: Spec, out_dir: Path, checkpoints: Path) -> dict:
    """Train `name` at every rate of the grid to the rung, continue the best to the end, keep it as
    out_dir/model.pt (with its dvclive folder as out_dir/live) and write out_dir/tune.json; returns what
    tune.json holds: the rate, every rate's validation PSNR at the rung (or at the end, without a rung), the kept
    model's, and the CPU-seconds (seconds x threads) of the kept run and of the whole tuning."""
    grid = [float(g) for g in spec.train.lr_grid]
    n, stop = workers(spec.train), rung_step(spec.train, len(grid))
    runs = [Run.of(spec, name, lr) for lr in grid]
    scored = train_grid([(run.replace(threads=1) if n > 1 else run, out_dir, checkpoints, stop) for run in runs], n)
    if int(os.environ.get("RANK", "0")) != 0:
        return {}
    psnr = {lr: score for lr, (score, _) in zip(grid, scored)}
    if max(psnr.values()) == float("-inf"):
        raise InputError(f"every rate of train.lr_grid made {name} diverge; add smaller rates to the grid")
    best = chosen_rate(psnr, spec.train.lr_tie_db)
    spent = {lr: cpu_seconds(summary) for lr, (_, summary) in zip(grid, scored)}
    final, kept = psnr[best], spent[best]
    if stop is not None:
        final, summary = _train_one((Run.of(spec, name, best), out_dir, checkpoints, None))
        if final == float("-inf"):
            raise InputError(f"{name} diverged after the rung at rate {best:g}; add smaller rates to the grid")
        kept += cpu_seconds(summary)
    for lr in grid:  # the rung's checkpoints of the rates not continued
        checkpoint_of(checkpoints, name, lr).unlink(missing_ok=True)
    shutil.copy(rate_folder(out_dir, best) / "model.pt", out_dir / "model.pt")
    shutil.rmtree(out_dir / "live", ignore_errors=True)
    shutil.copytree(rate_folder(out_dir, best) / "live", out_dir / "live")
    shutil.rmtree(out_dir / "rates")
    tuned = {"lr": best, "rung_step": stop, "validation_psnr": {f"{lr:g}": p for lr, p in psnr.items()},
             "kept_validation_psnr": final, "kept_cpu_seconds": round(kept, 1),
             "tuning_cpu_seconds": round(kept + sum(s for lr, s in spent.items() if lr != best), 1)}
    write_json(tuned, out_dir / "tune.json")
    return tuned
