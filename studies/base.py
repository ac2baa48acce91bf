"""The study interface. A study (one paper's tables, findings and figures) turns the evaluated results into a
section of reports/tables.md; the report stage assembles the studies that `report.studies` names.

    STUDIES.build(name).section(evidence) -> markdown lines (figures written under evidence.figures)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import InputError
from core.frames import load_shard
from core.paths import EVAL
from core.spec import Spec, Spreads


def keys_in_tables(spec: Spec, tables, groups: tuple[str, ...] = ("baselines", "models")) -> list[str]:
    """The params entries (baselines, then models) that appear in any of the tables (ids compared as text)."""
    wanted = {str(t) for t in tables}
    return [k for group in groups for k, e in getattr(spec, group).items() if wanted & set(map(str, e.tables))]


def entry_label(spec: Spec, key: str, table: int | None = None) -> str | None:
    """The label of a params entry (model or baseline) in a table; None when params lack the entry."""
    entry = spec.models.get(key) or spec.baselines.get(key)
    return None if entry is None else entry.label_in(table)


@dataclass(frozen=True)
class Beside:
    """Another run of the studies, as `python -m pipeline.report <study>` wrote it: its results and motion rows,
    and its profile, budget and each method's info (run.json)."""
    profile: str
    steps: int
    results: pd.DataFrame
    motion: pd.DataFrame
    info: dict[str, dict]

    def evidence(self, ev: Evidence) -> Evidence:
        """This run's evidence for the findings: `ev`'s spec and margins, its own results (no figures)."""
        return Evidence(ev.spec, ev.spreads, self.results, self.motion, self.info, ev.test, {}, ev.figures)


def load_beside(folder: str | Path) -> Beside:
    folder = Path(folder)
    missing = [f for f in ("results.csv", "motion.csv", "run.json") if not (folder / f).is_file()]
    if missing:
        raise InputError(f"report.beside names {folder}, which lacks {', '.join(missing)}; copy a run's "
                         "reports/study/<study>/ there (README, Profiles) or set report.beside to \"\"")
    run = json.loads((folder / "run.json").read_text())
    return Beside(run["profile"], int(run["steps"]),
                  pd.read_csv(folder / "results.csv", dtype={"subset": str, "table": str}),
                  pd.read_csv(folder / "motion.csv"), run["methods"])


@dataclass
class Evidence:
    """Everything a study may read: the spec, the budget study's spreads (the findings' margins), every method's
    results and motion rows, each method's info.json (by params key), the clean test shard, the degraded test sets
    by level, and where figures go."""
    spec: Spec
    spreads: Spreads
    results: pd.DataFrame
    motion: pd.DataFrame
    info: dict[str, dict]
    test: dict[str, np.ndarray]
    noisy: dict[str, dict[str, np.ndarray]]
    figures: Path
    made: list[str] = field(default_factory=list)  # figure files written, in order
    found: list[Finding] = field(default_factory=list)  # every study's findings, in order (reports/summary.json)
    beside: Beside | None = None  # another run of the studies, set beside this one (report.beside)
    colour: dict[str, np.ndarray] | None = None  # the clean colour test sequences (table colour, Appendix B)

    def keep(self, found: list[Finding]) -> list[Finding]:
        """A study's findings, kept for the run's summary, and handed back."""
        self.found += found
        return found

    def label(self, key: str, table: int | None = None) -> str | None:
        return entry_label(self.spec, key, table)

    def outputs(self, key: str) -> dict[str, np.ndarray]:
        """A method's restored test frames by level (data/eval/<key>/outputs.npz)."""
        return load_shard(EVAL / key / "outputs.npz")

    def keys_in_table(self, table: int | str) -> list[str]:
        return keys_in_tables(self.spec, [table])


@dataclass
class Finding:
    claim: str
    verdict: str  # holds, does not hold, within noise, cannot be decided at this budget, not measured
    evidence: str


def decide(gaps: list[float], margin: float | list[float]) -> str:
    """Each gap is "claimed better minus rival" (dB): every gap above its margin holds; one below -margin does
    not hold; anything else is within the noise of the run (the margin: the seed spread; one for every gap, or
    one margin per gap)."""
    margins = margin if isinstance(margin, list) else [margin] * len(gaps)
    if any(g < -m for g, m in zip(gaps, margins)):
        return "does not hold"
    return "holds" if all(g > m for g, m in zip(gaps, margins)) else "within noise"


UNDECIDED = "cannot be decided at this budget"


def decide_within(differences: list[float], tolerance: float, margin: float | list[float]) -> str:
    """A tolerance claim ("A stays within `tolerance` dB of B"): each |difference| under tolerance - margin
    holds, one over tolerance + margin does not; and where a margin is at least the tolerance no run could show
    the claim, so it cannot be decided at this budget rather than being "within noise"."""
    margins = margin if isinstance(margin, list) else [margin] * len(differences)
    verdict = decide([tolerance - abs(d) for d in differences], margins)
    if verdict == "within noise" and any(m >= tolerance for m in margins):
        return UNDECIDED
    return verdict


def relation(a: float, b: float) -> str:
    """">", "<" or "=" between two PSNRs as printed (2 decimals): the evidence shows the true order."""
    a, b = round(a, 2), round(b, 2)
    return ">" if a > b else "<" if a < b else "="


def avg_psnr(results: pd.DataFrame, table: int | str, method: str | None, level: str,
             blind: int | None = 0) -> float | None:
    """The avg-subset PSNR of a method in a table at a level (blind None: either), None when the row is missing."""
    r = results[(results.table.astype(str) == str(table)) & (results.method == method) & (results.level == level)
                & (results.subset.astype(str) == "avg")]
    if blind is not None:
        r = r[r.blind == blind]
    return float(r.psnr.iloc[0]) if len(r) else None


def _marks(values: pd.Series) -> dict:
    """Best in bold, second best in italics (by PSNR, higher is better)."""
    order = values.dropna().sort_values(ascending=False).index.tolist()
    return {i: ("**", "**") if k == 0 else ("*", "*") for k, i in enumerate(order[:2])}


def table_markdown(ours: pd.DataFrame, paper: pd.DataFrame | None, table: int | str, level: str,
                   paper_name: dict) -> str:
    """Methods by subsets at one level: ours PSNR / SSIM, and the paper's average beside them (none: no column)."""
    rows = ours[(ours.table.astype(str) == str(table)) & (ours.level == level)]
    subsets = sorted(s for s in set(rows.subset) if s != "avg") + ["avg"]
    keys = rows[["method", "blind"]].drop_duplicates().sort_values(["blind", "method"]).values.tolist()
    grid = {(m, b, s): r for m, b, s, r in zip(rows.method, rows.blind, rows.subset, rows.itertuples())}
    header = ["method", "blind", *[f"#{s}" if s != "avg" else "avg (ours)" for s in subsets]]
    header += ["avg (paper)"] if paper is not None else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    marks = {s: _marks(pd.Series({(m, b): grid[(m, b, s)].psnr for m, b in keys if (m, b, s) in grid}))
             for s in subsets}
    for m, b in keys:
        cells = [m, "yes" if b else "no"]
        for s in subsets:
            r = grid.get((m, b, s))
            a, z = marks[s].get((m, b), ("", ""))
            cells.append(f"{a}{r.psnr:.2f} / {r.ssim:.4f}{z}" if r is not None else "-")
        if paper is None:
            lines.append("| " + " | ".join(cells) + " |")
            continue
        p = paper[(paper.table.astype(str) == str(table)) & (paper.method == paper_name.get(m, m)) & (paper.blind == b)
                  & (paper.level == level) & (paper.subset == "avg")]
        cells.append(f"{p.psnr.iloc[0]:.2f} / {p.ssim.iloc[0]:.4f}" if len(p) else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings_markdown(found: list[Finding], margin: float) -> list[str]:
    """A study's claims with their verdicts and evidence, under the margin they were decided with."""
    return ["## Which of the claims hold in this run", "", f"A difference within {margin:.2f} dB is \"within noise\".",
            "", "| claim | verdict | evidence |", "|---|---|---|",
            *[f"| {f.claim} | {f.verdict} | {f.evidence.replace(' | ', '; ')} |" for f in found], ""]  # (a cell)


def sizes_markdown(ev: "Evidence", keys: list[str]) -> list[str]:
    """Parameters and evaluation speed of the learned models among keys (from their info.json)."""
    return ["| model | parameters | megapixels / s (evaluation, CPU) |", "|---|---|---|",
            *[f"| {ev.info[k]['label']} ({k}) | {ev.info[k].get('parameters', 0):,} | "
              f"{ev.info[k]['megapixels_per_second']:.3f} |" for k in keys if k in ev.info], ""]


def published_markdown(path: Path) -> list[str]:
    """A published-figures csv (source, method, dataset, psnr) as one markdown table per source."""
    pub = pd.read_csv(path, comment="#")
    datasets = list(dict.fromkeys(pub.dataset))
    lines = []
    for source, rows in pub.groupby("source", sort=False):
        lines += [f"Published: {source}", "", "| method | " + " | ".join(datasets) + " |",
                  "|---|" + "---|" * len(datasets)]
        for method, r in rows.groupby("method", sort=False):
            cells = [f"{r[r.dataset == d].psnr.iloc[0]:.2f}" if (r.dataset == d).any() else "-" for d in datasets]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


class Study:
    registered_name = "?"
    title = "?"
    tables: tuple = ()  # the `table` ids of results.csv the study reports (its methods are the entries in them)
    headline: tuple = ()  # (table, params key) whose mean PSNR over levels reports/summary.json holds

    def section(self, evidence: Evidence) -> list[str]:
        raise NotImplementedError
