"""Does a float-level change of a run stop mattering once the model trains longer? For the named models, at the
default budget and at longer ones: the test average trained with 1 and with 2 threads (seed 0), and the range of
the one-thread run and its runs from starts nudged by 1e-6 of themselves (engine/train.py, fresh_start).

    python -m tools.runs settling    # DVC stage `settling` (frozen: `dvc repro` never runs it), after `dvc repro`;
                                     # params `settling` (the committed reports/settling.md: kpn5_video and
                                     # kpn7_video at 450 and 1800 steps, 2 nudged starts)

Every run is the default recipe at the default width and the rate the default run chose; the schedule is a share
of the steps (warm-up, decay, moving average), so a longer run is the same recipe stretched. A run whose run key is
in the budget study's reports/budget/budget.csv or in reports/budget/settling.csv is read from there, not trained
again. Writes reports/budget/settling.csv and reports/settling.md.
"""
from __future__ import annotations

import pandas as pd

from core.paths import REPORTS
from core.spec import Spec
from tools.budget import chosen_rates, still_valid, train_jobs, with_keys
from tools.budget_report import OUT, STEADY_DB, with_perturb

CSV = OUT / "settling.csv"
REPORT = REPORTS / "settling.md"


def settling_jobs(spec: Spec, lrs: dict, models: list[str], steps: list[int], perturbations: int) -> list[dict]:
    """Seed 0 of each model at each budget: one thread, two threads, and one thread from each nudged start."""
    runs = [(1, 0), (2, 0)] + [(1, k) for k in range(1, perturbations + 1)]
    return [{"spec": spec, "model": m, "width": spec.train.width, "seed": 0, "steps": n,
             "threads": t, "lr": lrs[m], "perturb": p} for m in models for n in steps for t, p in runs]


def settling(df: pd.DataFrame) -> pd.DataFrame:
    """Per model, budget and level: the 1- and 2-thread test averages of seed 0, their difference, and the mean and
    range (max - min) of the one-thread run and its nudged starts; a group without both thread counts is left out."""
    rows = []
    for (m, n, level), g in with_perturb(df[df.seed == 0]).groupby(["model", "steps", "level"]):
        one, two = g[(g.threads == 1) & (g.perturb == 0)], g[g.threads == 2]
        starts = g[g.threads == 1].psnr
        if one.empty or two.empty:
            continue
        rows.append({"model": m, "steps": n, "level": level, "cpu_seconds": one.cpu_seconds.iloc[0],
                     "one": one.psnr.iloc[0], "two": two.psnr.iloc[0],
                     "difference": two.psnr.iloc[0] - one.psnr.iloc[0], "runs": len(starts),
                     "mean": starts.mean(), "range": starts.max() - starts.min()})
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    lines = ["# Settling: does a float-level change still move a model when it trains longer?", "",
             "Seed 0 of each model, the default recipe, width and rate, at each budget: the test average (PSNR, dB) "
             "trained with 1 and with 2 threads, and the mean and range (max - min) of the one-thread run and its "
             "runs from starts nudged by 1e-6 of themselves (a float-level change, as a thread count or another "
             f"CPU makes). The bound wanted: {STEADY_DB} dB. `python -m tools.settling` (after `dvc repro`) writes "
             "it.", "",
             "| model | steps | CPU-s | level | 1 thread | 2 threads | difference | nudged starts: runs, mean, range |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.steps} | {r.cpu_seconds:.0f} | {r.level} | {r.one:.2f} | {r.two:.2f} | "
                     f"{r.difference:+.2f} | {r.runs}, {r.mean:.2f}, {r.range:.2f} |")
    lines += ["", "Within the bound at both levels, per budget (of the models above):", ""]
    for n, g in table.groupby("steps"):
        per_model = g.groupby("model")
        threads = (per_model.difference.agg(lambda d: d.abs().max()) <= STEADY_DB).sum()
        starts = (per_model["range"].max() <= STEADY_DB).sum()
        lines.append(f"- {n} steps: 1 against 2 threads {threads} of {per_model.ngroups}; the range of the nudged "
                     f"starts {starts} of {per_model.ngroups}; largest difference {g.difference.abs().max():.2f} dB, "
                     f"largest range {g['range'].max():.2f} dB")
    return "\n".join(lines) + "\n"


def main() -> None:
    from core.config import InputError
    from core.spec import load_spec

    try:
        spec = load_spec()
        spec.need_models("settling.models", spec.settling.models)
    except InputError as e:
        raise SystemExit(f"tools.settling: {e}")
    st = spec.settling
    jobs = with_keys(settling_jobs(spec, chosen_rates(st.models), st.models, st.steps, st.perturbations),
                     "tools.settling")
    former = [pd.read_csv(p) for p in (OUT / "budget.csv", CSV) if p.is_file()]
    kept, todo = still_valid(pd.concat(former).drop_duplicates(["key", "level"]) if former else None, jobs)
    print(f"{len(jobs)} runs: {len(jobs) - len(todo)} read from former runs, {len(todo)} to train", flush=True)
    df = train_jobs(todo, with_perturb(kept).to_dict("records"), st.jobs, CSV)
    REPORT.write_text(markdown(settling(df)))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
