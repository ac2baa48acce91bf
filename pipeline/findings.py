"""The paper's findings, each decided from this run's numbers (never from the paper's).

Every check takes the results table (columns of results.csv), the motion table (method, fps, mse) or the
temporal sample shares of the 3D kernels, and returns a Finding: holds (True/False) or None where this run lacks
the rows to decide, with the figures it compared.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

BLIND_TOLERANCE_DB = 0.5  # the paper's blind-vs-non-blind gaps are at most 0.35 dB


@dataclass
class Finding:
    claim: str
    holds: bool | None
    evidence: str

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "not measured"}[self.holds]


def _avg(results: pd.DataFrame, table: int, method: str, level: str, blind: int = 0) -> float | None:
    r = results[(results.table == table) & (results.method == method) & (results.level == level)
                & (results.blind == blind) & (results.subset.astype(str) == "avg")]
    return float(r.psnr.iloc[0]) if len(r) else None


def _chain(results, table: int, methods: list[str], levels: list[str], blind: int = 0) -> tuple[bool | None, str]:
    """Does each method beat the next one (avg PSNR) at every level?"""
    ok, parts = True, []
    for level in levels:
        vals = [_avg(results, table, m, level, blind) for m in methods]
        if any(v is None for v in vals):
            return None, f"missing rows at {level}"
        ok &= all(a > b for a, b in zip(vals, vals[1:]))
        parts.append(f"{level}: " + " > ".join(f"{m} {v:.2f}" for m, v in zip(methods, vals)))
    return ok, "; ".join(parts)


def image_kernels(results, levels):
    ok, ev = True, []
    for rival in ("KPN 5x5", "DnCNN"):
        h, e = _chain(results, 2, ["Deformable 2D", rival], levels)
        if h is None:
            return Finding("(1) Deformable 2D beats KPN 5x5 and DnCNN on images", None, e)
        ok &= h
        ev.append(e)
    return Finding("(1) Deformable 2D beats KPN 5x5 and DnCNN on images", ok, " | ".join(ev))


def video_kernels(results, levels):
    h, e = _chain(results, 3, ["Deformable 3D 3x3x3", "Deformable 2D 3x3 per frame", "KPN 5x5"], levels)
    return Finding("(2) Deformable 3D beats Deformable 2D per frame, which beats KPN 5x5, on video", h, e)


def learned_beat_classical(results, levels, vbm4d: str, learned: set[str]):
    claim = f"(3) every learned method beats {vbm4d}, which beats direct averaging"
    ok, ev = True, []
    for level in levels:
        v, d = _avg(results, 3, vbm4d, level), _avg(results, 3, "Direct average", level)
        scores = {f"{m}{' (blind)' if b else ''}": _avg(results, 3, m, level, b) for m in learned for b in (0, 1)}
        scores = {k: s for k, s in scores.items() if s is not None}
        if v is None or d is None or not scores:
            return Finding(claim, None, f"missing rows at {level}")
        worst = min(scores, key=scores.get)
        ok &= scores[worst] > v > d
        ev.append(f"{level}: weakest learned {worst} {scores[worst]:.2f}, {vbm4d} {v:.2f}, direct average {d:.2f}")
    return Finding(claim, ok, "; ".join(ev))


def ablations(results, levels):
    pairs = [("full model 3x3x3", a) for a in ("direct", "w/o dynamic weights", "fixed kernel 3x3x3",
                                                "w/o annealing term")] + [("full model 5x5x5", "fixed kernel 5x5x5")]
    ok, ev = True, []
    for full, ablation in pairs:
        h, e = _chain(results, 4, [full, ablation], levels)
        if h is None:
            return Finding("(4) the full model beats each ablation of Table 4", None, e)
        ok &= h
        ev.append(e)
    return Finding("(4) the full model beats each ablation of Table 4", ok, " | ".join(ev))


def motion_gap(motion: pd.DataFrame):
    claim = "(5) the gap between 2D and 3D kernels grows as the frame rate falls"
    m2 = motion[motion.method == "Deformable 2D 3x3 per frame"].set_index("fps").mse
    m3 = motion[motion.method == "Deformable 3D 3x3x3"].set_index("fps").mse
    if m2.empty or m3.empty:
        return Finding(claim, None, "no motion results")
    gap = (m2 - m3).dropna().sort_index()
    lo, hi = gap.index.min(), gap.index.max()
    return Finding(claim, bool(gap[lo] > gap[hi]),
                   f"MSE(2D) - MSE(3D): {gap[hi]:.2e} at {hi} fps, {gap[lo]:.2e} at {lo} fps")


def blind_close(results, levels):
    claim = f"(6) blind models stay within {BLIND_TOLERANCE_DB} dB of their non-blind versions"
    ok, ev = True, []
    for table in (2, 3):
        blind_methods = set(results[(results.table == table) & (results.blind == 1)].method)
        for m in sorted(blind_methods):
            for level in levels:
                b, n = _avg(results, table, m, level, 1), _avg(results, table, m, level, 0)
                if b is None or n is None:
                    continue
                ok &= abs(n - b) <= BLIND_TOLERANCE_DB
                ev.append(f"T{table} {m} {level}: {n - b:+.2f} dB")
    return Finding(claim, ok if ev else None, "; ".join(ev) or "no blind/non-blind pair")


def annealing_spread(shares_with: list[float] | None, shares_without: list[float] | None):
    claim = "(7) annealing spreads the samples over more frames"
    if not shares_with or not shares_without:
        return Finding(claim, None, "no temporal shares")
    ref = len(shares_with) // 2
    off_with, off_without = 1 - shares_with[ref], 1 - shares_without[ref]
    return Finding(claim, off_with > off_without,
                   f"share of samples off the reference frame: {off_with:.1%} with, {off_without:.1%} without")


def all_findings(results: pd.DataFrame, motion: pd.DataFrame, shares_with, shares_without,
                 vbm4d: str, learned_video: set[str]) -> list[Finding]:
    """learned_video: the labels of the learned methods of Table 3; vbm4d: the label of VBM4D's row."""
    levels = sorted(set(results.level))
    return [image_kernels(results, levels), video_kernels(results, levels),
            learned_beat_classical(results, levels, vbm4d, learned_video), ablations(results, levels),
            motion_gap(motion),
            blind_close(results, levels), annealing_spread(shares_with, shares_without)]
