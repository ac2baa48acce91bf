"""The budget study's report (tools/budget.py runs it): which models it draws as curves and against which classical
method, when each curve reaches its targets, the findings between learned models on the seed means, the seed
spreads and the thread stability; reports/budget.md and reports/budget/figure_budget.png from budget.csv.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.paths import BUDGET, EVAL, REPORTS
from core.spec import Spec

OUT = BUDGET
SPREADS = OUT / "spreads.json"  # the findings' margins (core.spec.Spreads), read by the report stage
# Each study model and the classical method it must catch (the best classical row of its table).
MODELS = {"dncnn": "BM3D", "kpn5_image": "BM3D", "d2d": "BM3D", "d3d": "BM4D (VBM4D stand-in)",
          "kpn7_video": "BM4D (VBM4D stand-in)"}
TABLE = {"dncnn": 2, "kpn5_image": 2, "d2d": 2, "d3d": 3, "kpn7_video": 3}
REFERENCE = "Reference frame"
STEADY_DB = 0.1  # the bound on the 1-thread / 2-thread difference of a model's test average
GAIN = 2.0  # the second target of every model: the noisy reference frame + this many dB
MAX_EXTRAPOLATION = 100  # crossovers further than this many times the largest budget measured are not given


DNCNN_PER_WIDTH = 4  # DnCNN has no U-Net: its width is this many times the U-Net width named, so that the
# default U-Net width (8) names the default run's DnCNN (32) and width 16 DnCNN's published width (64)


def crossover(points: pd.DataFrame, target: float) -> tuple[float | None, bool]:
    """CPU-seconds where the mean curve reaches `target` dB: interpolated between measured points, else
    extrapolated along the last segment (log-seconds); (None, False) if the curve flattens or falls there."""
    xs, ys = np.log(points.cpu_seconds.to_numpy()), points.psnr.to_numpy()
    for k in range(len(xs) - 1):
        if ys[k] < target <= ys[k + 1]:
            return float(np.exp(xs[k] + (target - ys[k]) * (xs[k + 1] - xs[k]) / (ys[k + 1] - ys[k]))), False
    if ys[0] >= target:
        return float(np.exp(xs[0])), False
    slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if len(xs) > 1 else 0.0
    if slope <= 0:
        return None, False
    reach = xs[-1] + (target - ys[-1]) / slope
    if reach > xs[-1] + np.log(MAX_EXTRAPOLATION):  # a nearly flat last segment says nothing that far out
        return None, True
    return float(np.exp(reach)), True


def when_reached(points: pd.DataFrame, target: float) -> tuple[str, str]:
    """The words for where a mean curve reaches `target`: CPU-seconds, or a bound, and how it was found."""
    x, extrapolated = crossover(points, target)
    if x is None:
        return (f"beyond {MAX_EXTRAPOLATION}x the largest budget measured" if extrapolated
                else "not reached: the curve flattens"), ""
    if points.psnr.iloc[0] >= target:  # already there at the smallest budget: only a bound
        return f"<= {x:,.0f} (the smallest budget measured)", "measured"
    return f"{x:,.0f}", "extrapolated" if extrapolated else "measured"


def figure(df: pd.DataFrame, classical: dict, default: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(set(df.level))
    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4.2), squeeze=False)
    colours = dict(zip(MODELS, plt.cm.tab10.colors))
    for ax, level in zip(axes[0], levels):
        for (model, width), rows in df[(df.level == level) & (df.threads == 1)].groupby(["model", "width"]):
            g = rows.groupby("steps").agg(cpu=("cpu_seconds", "mean"), mean=("psnr", "mean"), lo=("psnr", "min"),
                                          hi=("psnr", "max")).sort_values("cpu")
            ax.errorbar(g.cpu, g["mean"], yerr=[g["mean"] - g.lo, g.hi - g["mean"]], marker="o", capsize=2,
                        color=colours[model], linestyle="-" if width == min(df.width) else "--",
                        label=f"{model} width {width}")
        for i, (label, value) in enumerate(sorted(classical[level].items())):
            ax.axhline(value, color="grey", linestyle=":", linewidth=1)
            # x in axes fractions: the data limits still move as later points are drawn
            ax.text(0.01 if i % 2 else 0.99, value, f" {label}", fontsize=7, va="bottom",
                    ha="left" if i % 2 else "right", transform=ax.get_yaxis_transform())
        d = default[default.level == level]
        ax.scatter(d.cpu_seconds, d.psnr, marker="*", s=90, color="black", zorder=5, label="default run")
        ax.set_xscale("log")
        ax.set_xlabel("training CPU-seconds (one thread)")
        ax.set_ylabel("test PSNR (dB, avg of subsets)")
        ax.set_title(f"{level} noise: error bars span the seeds")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def with_perturb(df: pd.DataFrame) -> pd.DataFrame:
    """Study rows with an integer `perturb` column: 0 for a plain run (and for every row of a study written before
    perturbed starts), k for the run from the start nudged with seed k."""
    return df.assign(perturb=df["perturb"].fillna(0).astype(int) if "perturb" in df else 0)


def at_default(study: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """The one-thread runs at the default width and budget."""
    return study[(study.width == spec.train.width) & (study.steps == spec.train.steps)
                 & (study.threads == 1)]


def seed_means(study: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """Rows like reports/results.csv's averages (table, method, blind, level, subset avg, psnr) for every model at
    the default width and budget, its test PSNR the mean over its seeds."""
    from studies.base import entry_label

    rows = []
    for (m, level), g in at_default(study, spec).groupby(["model", "level"]):
        e = spec.models[m]
        rows += [{"table": t, "method": entry_label(spec, m, t), "blind": int(bool(e.args.get("blind"))),
                  "level": level, "subset": "avg", "psnr": g.psnr.mean(), "seeds": g.seed.nunique()}
                 for t in sorted({2, 3, 4} & set(e.tables))]
    return pd.DataFrame(rows)


def write_spreads(per_model: pd.Series, margin: float, quantities: dict[str, float], args, steps: int,
                  path: Path) -> None:
    """The findings' margins, rounded to 0.01 dB as the report prints them, and those of findings (5) and (7) to
    3 significant digits (core.spec.Spreads)."""
    from core.results import write_json

    write_json({"study": f"{len(args.seeds)} seeds and {args.perturbations} starts nudged by 1e-6 at {steps:,} steps, "
                         "reports/budget.md (`python -m tools.runs budget`)",
                "margin_db": round(float(margin), 2),
                "seed_spread_db": {m: round(float(v), 2) for m, v in per_model.items()},
                "finding_margins": {q: float(f"{v:.3g}") for q, v in quantities.items()}}, path)


def default_runs(study: pd.DataFrame, nudged: pd.DataFrame | None, spec: Spec) -> pd.DataFrame:
    """The one-thread runs at the default width and budget, its seeds and its nudged starts alike: the runs every
    spread of the findings is taken over."""
    pool = at_default(study, spec)
    return pd.concat([pool, at_default(nudged, spec)]) if nudged is not None and len(nudged) else pool


def default_spread(study: pd.DataFrame, nudged: pd.DataFrame | None, spec: Spec) -> pd.Series:
    """Each model's spread at the default width and budget, the larger of its levels: max - min test PSNR over
    its one-thread runs there, its seeds and its perturbed starts alike. Both are the same procedure run again;
    at 450 steps a float-level nudge moves some models further than a seed does (DnCNN's second nudge stayed at
    its noisy input)."""
    runs = default_runs(study, nudged, spec).groupby(["model", "level"]).psnr
    return runs.agg(lambda s: s.max() - s.min())[runs.size() > 1].groupby(level="model").max()


def finding_margins(study: pd.DataFrame, nudged: pd.DataFrame | None, spec: Spec) -> dict[str, float]:
    """The spread (max - min) over the same runs as default_spread, each seed or nudged start of one model paired
    with the same of the other, of what findings (5) and (7) measure: how much the MSE gap of Deformable 2D per
    frame over Deformable 3D grows from the highest frame rate to the lowest, and per level (the larger kept) the
    share of Deformable 3D's samples off the reference frame less that of its twin without annealing."""
    from studies.xu2019 import ROLES

    pool = with_perturb(default_runs(study, nudged, spec))
    key = lambda role: ROLES[role][1]  # noqa: E731
    out = {}
    fps = sorted(int(c[4:]) for c in pool.columns if c.startswith("mse_"))
    if fps:
        mse = pool.dropna(subset=[f"mse_{fps[0]}"]).set_index(["model", "seed", "perturb"]).sort_index()
        gap = lambda f: mse.loc[key("d2d_per_frame"), f"mse_{f}"] - mse.loc[key("d3d"), f"mse_{f}"]  # noqa: E731
        if key("d2d_per_frame") in mse.index and key("d3d") in mse.index:
            growth = (gap(fps[0]) - gap(fps[-1])).dropna()
            if len(growth) > 1:
                out["motion_gap_growth"] = float(growth.max() - growth.min())
    if "off_reference" in pool:
        off = pool.dropna(subset=["off_reference"]).set_index(["model", "level", "seed", "perturb"]).off_reference
        off = off.sort_index()
        if key("d3d") in off.index and key("no_annealing") in off.index:
            q = (off.loc[key("d3d")] - off.loc[key("no_annealing")]).dropna()
            spread = q.groupby(level="level").agg(lambda v: v.max() - v.min())[q.groupby(level="level").size() > 1]
            if len(spread):
                out["off_reference_share"] = float(spread.max())
    return out


def findings_on_means(study: pd.DataFrame, spec: Spec, nudged: pd.DataFrame | None = None) -> list:
    """Findings (1), (2), (4) and (6), the ones between learned models, decided on the mean of each model's
    seeds by the report's rule (a gap against the larger spread of its pair: default_spread), every spread
    divided by sqrt(seeds): a mean of n seeds varies sqrt(n) times less than one seed does."""
    from studies.base import entry_label
    from studies.xu2019 import ROLES, all_findings, read_paper, role_spreads

    runs = at_default(study, spec)
    seeds = runs.groupby("model").seed.nunique()
    if seeds.empty or seeds.min() < 2:
        return []
    measured = (default_spread(study, nudged, spec) / np.sqrt(seeds)).dropna().to_dict()
    margin = max(measured.values())
    spreads, twins = role_spreads(spec, measured, margin)
    labels = {role: entry_label(spec, key, table) for role, (table, key) in ROLES.items()}
    paper = read_paper()
    paper_blind = {(int(t), m) for t, m in paper.loc[paper.blind == 1, ["table", "method"]].itertuples(False)}
    found = all_findings(seed_means(study, spec), pd.DataFrame(columns=["method", "fps", "mse"]), None, None,
                         labels, set(), margin, paper_blind=paper_blind, spreads=spreads, twin_spreads=twins)
    return [found[k] for k in (0, 1, 3, 5)]


def curves_markdown(df: pd.DataFrame, study: pd.DataFrame, spec: Spec, args) -> list[str]:
    from pipeline.report import DECAYS  # the report's words for the schedule

    md = ["# Training budget: test PSNR against training CPU-seconds", "",
          f"Every point is a separate run to its own budget with the default recipe (warm-up, "
          f"{DECAYS[spec.train.schedule]}, the rate the default run chose "
          "for the model on the validation "
          "split), one thread, on this machine; PSNR is the test average over the subsets, as in the tables. "
          f"Curves over budgets: {', '.join(args.models)}; every other learned model of Tables 2-4 "
          f"({', '.join(m for m in args.spread_models if m in set(df.model)) or 'none'}) at the default width and "
          "budget only, for its seed spread "
          "and thread stability. "
          f"DnCNN has no U-Net: its width is {DNCNN_PER_WIDTH}x the U-Net width named (the default run's is "
          f"{spec.models['dncnn'].args['width']}). "
          f"`python -m tools.runs budget` reproduces it after `dvc repro` (params `budget`: steps "
          f"{', '.join(map(str, args.steps))}, seeds {', '.join(map(str, args.seeds))}; the spreads at train.steps "
          f"{spec.train.steps}).",
          "", "![budget](budget/figure_budget.png)", "",
          "| model | width | steps | CPU-s | " + " | ".join(f"{lv} mean (min-max over seeds)" for lv in
                                                            sorted(set(df.level))) + " |",
          "|---|---|---|---|" + "---|" * len(set(df.level))]
    for (m, w, n), rows in study.groupby(["model", "width", "steps"]):
        cells = []
        for lv in sorted(set(df.level)):
            r = rows[rows.level == lv].psnr
            cells.append(f"{r.mean():.2f} ({r.min():.2f}-{r.max():.2f})")
        md.append(f"| {m} | {w} | {n} | {rows.cpu_seconds.mean():.0f} | " + " | ".join(cells) + " |")
    return md


def spread_markdown(study: pd.DataFrame, nudged: pd.DataFrame, spec: Spec, args) -> list[str]:
    md = ["", "## Seed spread", ""]
    groups = study.groupby(["model", "width", "steps", "level"]).psnr
    spread = groups.agg(lambda s: s.max() - s.min())[groups.size() > 1]  # where two or more seeds ran
    at = spread[(spread.index.get_level_values("width") == spec.train.width)
                & (spread.index.get_level_values("steps") == spec.train.steps)]
    worst = at.idxmax() if len(at) else None
    md += [f"Spread between seeds (max - min test PSNR over the seeds of one model, width, budget and level): at "
           f"the default width {spec.train.width} and {spec.train.steps} steps, largest "
           + (f"{at.max():.2f} dB ({worst[0]}, {worst[3]}), median {at.median():.2f} dB" if worst else "not measured")
           + f"; over every budget measured, largest {spread.max():.2f} dB, median {spread.median():.2f} dB.", ""]
    per_model = default_spread(study, nudged, spec).round(2)
    quantities = finding_margins(study, nudged, spec)
    if len(at):
        write_spreads(per_model, at.max(), quantities, args, spec.train.steps, SPREADS)
    md += ["Per model at the default budget, the larger of its levels, over its seeds and its perturbed starts "
           f"(see Stability) alike; with the largest spread between seeds ({at.max():.2f} dB), which stands for "
           f"every model not trained here and for finding (3), they are written to {SPREADS}, the file the "
           "report's findings read (params `report.spreads`):", "",
           "    " + ", ".join(f"{m}: {v:.2f}" for m, v in per_model.items()), "",
           "Over the same runs, paired seed by seed, the spread of what findings (5) and (7) measure (their "
           "margins): " + (", ".join(f"{q} {v:.3g}" for q, v in quantities.items()) or "not measured") + ".", ""]
    return md


def means_markdown(study: pd.DataFrame, nudged: pd.DataFrame, spec: Spec) -> list[str]:
    md = []
    found = findings_on_means(study, spec, nudged)
    if found:
        md += ["## The findings between learned models, on the mean of each model's seeds", "",
               "The report decides them on the default run (seed 0). Here the same rule reads the mean of the seeds "
               "at the default width and budget, every margin the pair's spread (seeds and perturbed starts) divided "
               "by sqrt(seeds) (the mean of n seeds varies sqrt(n) times less than one seed).", "",
               "| finding | verdict | evidence |", "|---|---|---|"]
        md += [f"| {f.claim} | {f.verdict} | {f.evidence} |" for f in found] + [""]
    return md


def crossings_markdown(study: pd.DataFrame, classical: dict, args) -> list[str]:
    md = [f"## When does each model catch the classical method of its table, and the reference frame + {GAIN:g} dB?",
          "",
          "Mean over seeds.", "",
          "| model | width | level | target | CPU-s to reach it | |", "|---|---|---|---|---|---|"]
    for (m, w, lv), rows in study[study.model.isin(args.models)].groupby(["model", "width", "level"]):
        g = rows.groupby("steps").agg(cpu_seconds=("cpu_seconds", "mean"), psnr=("psnr", "mean")).sort_values(
            "cpu_seconds")
        known, targets = classical[lv], {}
        if MODELS[m] in known:
            targets[f"{MODELS[m]} {known[MODELS[m]]:.2f}"] = known[MODELS[m]]
        if REFERENCE in known:
            targets[f"reference frame + {GAIN:g} dB: {known[REFERENCE] + GAIN:.2f}"] = known[REFERENCE] + GAIN
        for name, value in targets.items():
            when, how = when_reached(g, value)
            md.append(f"| {m} | {w} | {lv} | {name} | {when} | {how} |")
    return md


def stability_markdown(df: pd.DataFrame, nudged: pd.DataFrame, spec: Spec) -> list[str]:
    md = ["", "## Stability: the default width and budget trained with 1 and with 2 threads", "",
          "Seed 0 both times. Beside it, the range of the one-thread run and its runs from perturbed starts (the "
          "start weights nudged by 1e-6 of themselves, a float-level change like the one a thread count or "
          "another CPU makes; `--perturbations`).", "",
          "| model | level | 1 thread | 2 threads | difference | perturbed starts: runs, range (min-max) |",
          "|---|---|---|---|---|---|"]
    base = df[(df.width == spec.train.width) & (df.steps == spec.train.steps) & (df.seed == 0)]
    near = at_default(nudged, spec)
    near = near[near.seed == 0]
    worst, inside, ranged = {}, {}, {}
    for (m, lv), rows in base.groupby(["model", "level"]):
        one, two = rows[rows.threads == 1].psnr, rows[rows.threads == 2].psnr
        if len(one) and len(two):
            runs = pd.concat([one, near[(near.model == m) & (near.level == lv)].psnr])
            cell = (f"{len(runs)}, {runs.max() - runs.min():.2f} ({runs.min():.2f}-{runs.max():.2f})"
                    if len(runs) > 1 else "-")
            md.append(f"| {m} | {lv} | {one.iloc[0]:.2f} | {two.iloc[0]:.2f} | {two.iloc[0] - one.iloc[0]:+.2f} "
                      f"| {cell} |")
            worst[m] = max(worst.get(m, 0.0), abs(two.iloc[0] - one.iloc[0]))
            if len(runs) > 1:
                ranged[m] = max(ranged.get(m, 0.0), runs.max() - runs.min())
                # the two-thread run is one more draw: inside the range of the nudged ones, or near it
                within = runs.min() - 0.005 <= two.iloc[0] <= runs.max() + 0.005
                inside[m] = inside.get(m, True) and within
    if worst:
        steady = sorted(m for m, v in worst.items() if round(v, 2) <= STEADY_DB)
        largest = max(worst, key=worst.get)
        md += ["", f"Within {STEADY_DB} dB at both levels: {len(steady)} of {len(worst)} models"
               + (f" ({', '.join(steady)})" if steady else "")
               + f"; the largest difference {worst[largest]:.2f} dB ({largest})."]
    if ranged:
        calm = sorted(m for m, v in ranged.items() if round(v, 2) <= STEADY_DB)
        wide = max(ranged, key=ranged.get)
        md += ["", f"Perturbed starts: the two-thread run lies within the range of the one-thread runs (plain and "
               f"perturbed) at both levels for {sum(inside.values())} of {len(inside)} models; that range is within "
               f"{STEADY_DB} dB for {len(calm)} of {len(ranged)}" + (f" ({', '.join(calm)})" if calm else "")
               + f", median {np.median(list(ranged.values())):.2f} dB, largest {ranged[wide]:.2f} dB ({wide})."]
    return md


def evaluated(spec: Spec) -> pd.DataFrame:
    """The default run's subset averages of every baseline and model, from data/eval (the report stage's inputs,
    not its results.csv: the report reads this study's spreads)."""
    frames = [pd.read_csv(EVAL / k / "results.csv", dtype={"subset": str, "table": str})
              for k in [*spec.baselines, *spec.models] if (EVAL / k / "results.csv").is_file()]
    rows = pd.concat(frames, ignore_index=True)
    return rows[rows.subset == "avg"]


def report(df: pd.DataFrame, spec: Spec, args) -> None:
    """reports/budget.md, reports/budget/figure_budget.png and the spreads file, from the study's rows."""
    df = with_perturb(df)
    nudged, df = df[df.perturb > 0], df[df.perturb == 0]  # the curves, spreads and findings read plain runs only

    avg = evaluated(spec)
    classical = {lv: {m: float(r.psnr.iloc[0]) for m in ("BM3D", "BM4D (VBM4D stand-in)", "NLM", REFERENCE)
                      if len(r := avg[(avg.method == m) & (avg.level == lv)])}
                 for lv in sorted(set(df.level))}
    info = {m: json.loads((EVAL / m / "info.json").read_text()) for m in args.models}
    default = pd.DataFrame([{"model": m, "level": lv, "cpu_seconds": info[m]["train_seconds"],
                             "psnr": float(avg[(avg.method == info[m]["label"]) & (avg.level == lv) & (avg.blind == 0)
                                               & (avg.table == str(TABLE[m]))].psnr.iloc[0])}
                            for m in args.models for lv in sorted(set(df.level))])
    figure(df[df.model.isin(args.models)], classical, default, OUT / "figure_budget.png")
    study = df[df.threads == 1]
    md = (curves_markdown(df, study, spec, args) + spread_markdown(study, nudged, spec, args)
          + means_markdown(study, nudged, spec) + crossings_markdown(study, classical, args)
          + stability_markdown(df, nudged, spec))
    (REPORTS / "budget.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
