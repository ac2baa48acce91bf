"""How far two runs' results are apart: the test averages of every method in two results.csv files (the same
params run again on another machine, a fresh clone, another install), per table, method and level.

    git show HEAD:reports/results.csv > /tmp/committed.csv
    python -m tools.compare /tmp/committed.csv reports/results.csv

Prints a markdown table, largest move first: the PSNR of each average in both runs, the move, and whether it is
within `--bound` dB (0.1: issue 9's bound between a run and the same run with another float summation order).
Rows in only one file are named below the table, never silently dropped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

KEY = ["table", "method", "blind", "level"]


def averages(path: Path) -> pd.DataFrame:
    """The subset averages of a results.csv (reports/results.csv's columns), one row per table, method, level."""
    if not path.is_file():
        raise SystemExit(f"tools.compare: {path} is not a file; name two results.csv files (reports/results.csv)")
    df = pd.read_csv(path, dtype={"subset": str, "table": str})
    if missing := sorted(set(KEY + ["subset", "psnr"]) - set(df.columns)):
        raise SystemExit(f"tools.compare: {path} has no column {missing[0]}; it is not a results.csv of this suite")
    avg = df[df.subset == "avg"]
    if avg.duplicated(KEY).any():
        raise SystemExit(f"tools.compare: {path} holds one table, method and level twice; compare one run's file")
    return avg[KEY + ["psnr"]]


def moves(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The averages in both runs with their move b - a, largest first; and the rows that only one run has."""
    both = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator="where")
    only = both[both["where"] != "both"][KEY + ["where"]]
    both = both[both["where"] == "both"].drop(columns="where")
    both["move"] = both.psnr_b - both.psnr_a
    return both.reindex(both.move.abs().sort_values(ascending=False).index), only


def markdown(both: pd.DataFrame, only: pd.DataFrame, bound: float) -> str:
    lines = ["| table | method | blind | level | PSNR a | PSNR b | move | within |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.table} | {r.method} | {'yes' if r.blind else 'no'} | {r.level} | {r.psnr_a:.2f} | {r.psnr_b:.2f} "
              f"| {r.move:+.2f} | {'yes' if abs(r.move) <= bound else 'no'} |" for r in both.itertuples()]
    within = (both.move.abs() <= bound).sum()
    lines += ["", f"{within} of {len(both)} averages within {bound} dB; largest move {both.move.abs().max():.2f} dB, "
                  f"median {both.move.abs().median():.2f} dB"]
    lines += [f"only in {'a' if r.where == 'left_only' else 'b'}: table {r.table}, {r.method}, {r.level}"
              for r in only.itertuples()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="a results.csv (the former run)")
    ap.add_argument("b", type=Path, help="a results.csv (the run again)")
    ap.add_argument("--bound", type=float, default=0.1, help="dB a move may be and count as within")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    both, only = moves(averages(args.a), averages(args.b))
    print(markdown(both, only, args.bound), end="")


if __name__ == "__main__":
    main()
