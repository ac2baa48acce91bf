"""bf16 against fp32, per model family, at the same steps, seed and rate: test PSNR at every level and the
CPU-seconds of each run, one thread per run, two side by side (the validation `train.precision` asks for).

    python -m tools.precision --models d2d d3d kpn5_video dncnn nlrn n2c hqssl --steps 450 --seeds 0
                                                            # after `dvc repro` (test sets and tuned rates)

Writes reports/precision.csv (the runs) and reports/precision.md: one row per model and seed, fp32 and bf16 side by side, and their difference beside
the seed spread of the budget study (reports/budget/spreads.json), the yardstick of what a float-level change of
a run moves.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from core.spec import load_spec, replace
from models.compute import bf16_native
from tools.budget import chosen_rates, run, train_jobs, with_keys

OUT = Path("reports/precision.md")


def jobs(spec, models: list[str], steps: int, seeds: list[int]) -> list[dict]:
    rates = chosen_rates(models)
    return [{"spec": replace(spec, train=replace(spec.train, precision=p, channels_last=p == "bf16")),
             "model": m, "width": spec.train.width, "lr": rates[m], "perturb": 0, "steps": steps, "seed": s,
             "threads": 1, "precision": p} for m in models for s in seeds for p in ("fp32", "bf16")]


def table(rows: pd.DataFrame, spreads: dict) -> str:
    wide = rows.pivot_table(index=["model", "seed", "level"], columns="precision", values=["psnr", "cpu_seconds"])
    lines = ["| model | seed | level | fp32 dB | bf16 dB | bf16 - fp32 | seed spread | fp32 CPU-s | bf16 CPU-s | "
             "speed-up |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (model, seed, level), r in wide.iterrows():
        f, b = r[("psnr", "fp32")], r[("psnr", "bf16")]
        cf, cb = r[("cpu_seconds", "fp32")], r[("cpu_seconds", "bf16")]
        spread = spreads.get(model)
        lines.append(f"| {model} | {seed} | {level} | {f:.2f} | {b:.2f} | {b - f:+.2f} | "
                     f"{'-' if spread is None else f'{spread:.2f}'} | {cf:.1f} | {cb:.1f} | {cf / cb:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["d2d", "d3d", "kpn5_video", "dncnn", "nlrn", "n2c", "hqssl"])
    ap.add_argument("--steps", type=int, default=450)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    if not bf16_native("cpu"):
        raise SystemExit("tools.precision: this CPU has no native bf16 (AVX-512 BF16 or AMX); nothing to compare")
    spec = load_spec(Path("params.yaml"))
    todo = with_keys(jobs(spec, a.models, a.steps, a.seeds), "tools.precision")
    rows = train_jobs(todo, [], a.jobs, OUT.with_suffix(".csv"), run)
    rows["precision"] = rows["key"].map({j["key"]: j["precision"] for j in todo})
    spreads_file = Path(spec.report.spreads)
    spreads = json.loads(spreads_file.read_text()).get("seed_spread_db", {}) if spreads_file.is_file() else {}
    text = (f"# bf16 against fp32 ({a.steps} steps, one thread per run, `python -m tools.precision`)\n\n"
            f"{table(rows, spreads)}\n")
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
