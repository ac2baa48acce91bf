"""How often the rung of rate selection picks the rate the full grid picks (engine/select.py; docs/recipe.md).

    python -m tools.rung [--shares 0.15 0.2 0.3] [--models d2d d3d ...]

Run it in a project whose data/models/*/tune.json come from a default run with `train.rung: 1` (every rate
trained the whole budget): that run's choices are the reference. Every model of params trains at every rate of
the grid to each share of its steps (one run per rate, resumed from share to share, one thread each, rates side
by side as the stage runs them), each snapshot is scored on validation as the stage scores it, and the pick at
each share is compared with the full grid's. Writes reports/rung.csv (every snapshot's score) and
reports/rung.md: per share the agreements, and what a disagreement costs, the full grid's validation PSNR of the
rung's pick against that of its own pick.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from core.paths import REPORTS, model_folder
from core.spec import Spec, load_spec
from engine.run import Run
from engine.select import chosen_rate, validation_psnr
from engine.train import Diverged, train


def rung_steps(spec: Spec, shares: list[float]) -> list[int]:
    return sorted({max(1, round(s * spec.train.steps)) for s in shares})


def _snapshots(job: tuple[Spec, str, float, list[int], Path]) -> list[dict]:
    """One rate's run, stopped and scored at each step of `steps` in turn."""
    spec, name, lr, steps, work = job
    run = Run.of(spec, name, lr).replace(threads=1)
    folder, checkpoint = work / name / f"{lr:g}", work / f"{name}@{lr:g}.pt"
    rows, psnr = [], None
    for k in steps:
        if psnr != float("-inf"):
            try:
                train(run, folder, checkpoint, stop_after=k, snapshot=folder / "model.pt")
                psnr = validation_psnr(folder / "model.pt", run.entry, run.train)
            except Diverged:
                psnr = float("-inf")
        rows.append({"model": name, "lr": lr, "step": k, "psnr": psnr})
    return rows


def full_grid(name: str) -> dict[float, float]:
    """Every rate's validation PSNR at the end of the budget, from a run with train.rung: 1."""
    tuned = json.loads((model_folder(name) / "tune.json").read_text())
    if tuned.get("rung_step") is not None:
        raise SystemExit(f"{model_folder(name) / 'tune.json'} comes from a run with a rung; the reference must be "
                         "a run with train.rung: 1 (every rate trained the whole budget)")
    return {float(lr): p for lr, p in tuned["validation_psnr"].items()}


def agreement(scores: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Per model and rung step: the rung's pick, the full grid's pick, and the full-budget validation PSNR lost."""
    rows = []
    for (name, step), g in scores.groupby(["model", "step"]):
        full = full_grid(name)
        pick = chosen_rate(dict(zip(g.lr, g.psnr)), spec.train.lr_tie_db)
        grid_pick = chosen_rate(full, spec.train.lr_tie_db)
        rows.append({"model": name, "step": step, "rung_pick": pick, "grid_pick": grid_pick,
                     "loss_db": full[grid_pick] - full[pick]})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, spec: Spec) -> str:
    n = table.model.nunique()
    md = ["# Rate selection: the rung against the full grid", "",
          f"{n} models, the grid {', '.join(f'{g:g}' for g in spec.train.lr_grid)}, {spec.train.steps} steps; the "
          "full grid's choices from a default run with `train.rung: 1`; `python -m tools.rung`.", "",
          "| rung (share of the steps) | tuning cost (runs) | same rate as the full grid | validation PSNR lost "
          "where not (mean over all models / worst, dB) |", "|---|---|---|---|"]
    rates = len(spec.train.lr_grid)
    for step, g in table.groupby("step"):
        share = step / spec.train.steps
        same = int((g.rung_pick == g.grid_pick).sum())
        md.append(f"| {share:.2f} (step {step}) | {rates * share + 1 - share:.2f} | {same} of {len(g)} | "
                  f"{g.loss_db.mean():.3f} / {g.loss_db.max():.2f} |")
    md += ["", "Where they differ:", "", "| model | step | rung's pick | full grid's pick | dB lost |",
           "|---|---|---|---|---|"]
    md += [f"| {r.model} | {r.step} | {r.rung_pick:g} | {r.grid_pick:g} | {r.loss_db:.2f} |"
           for r in table[table.rung_pick != table.grid_pick].itertuples()]
    return "\n".join(md) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.15, 0.2, 0.3])
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    spec = load_spec(Path(args.params))
    names = args.models or list(spec.models)
    steps = rung_steps(spec, args.shares)
    with tempfile.TemporaryDirectory() as work:
        jobs = [(spec, name, float(lr), steps, Path(work)) for name in names for lr in spec.train.lr_grid]
        with ProcessPoolExecutor(spec.train.rate_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            scores = pd.DataFrame([row for rows in pool.map(_snapshots, jobs) for row in rows])
    REPORTS.mkdir(exist_ok=True)
    scores.to_csv(REPORTS / "rung.csv", index=False)
    (REPORTS / "rung.md").write_text(markdown(agreement(scores, spec), spec))
    print((REPORTS / "rung.md").read_text())


if __name__ == "__main__":
    main()
