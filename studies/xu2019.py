"""Study `xu2019`: Tables 2-4 of Xu, Li and Sun, "Learning Deformable Kernels for Image and Video Denoising"
(arXiv 1904.06903) beside the published figures, the paper's seven findings decided from this run's numbers
(never from the paper's), and Figures 5, 8, 9 and 10; Appendix B's colour table, claim and Figure 12
(studies/xu2019_colour.py).

The study names the params entries that play the paper's roles (d2d, kpn5_image, ...) and reads their labels
from params, so a renamed label does not silently break a finding; a missing entry makes it "not measured".
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from core import paths
from core.registry import STUDIES
from core.results import COLOUR, in_colour
from core.spec import Spec
from studies import figures
from studies.base import (Evidence, Finding, Study, avg_psnr, decide, decide_within, entry_label,
                          published_markdown, relation, table_markdown)
from studies.xu2019_colour import colour_finding, colour_section, draw_figure12

PAPER = paths.PAPER / "xu2019_tables.csv"
FASTDVDNET = paths.PAPER / "fastdvdnet_published.csv"
TITLES = {2: "Table 2: single image denoising", 3: "Table 3: video denoising",
          4: "Table 4: ablation (video, average over the test subsets)"}
BLIND_TOLERANCE_DB = 0.5  # the paper's blind-vs-non-blind gaps are at most 0.35 dB
# (table, params key) of each role the findings compare.
ROLES = {"d2d": (2, "d2d"), "kpn_image": (2, "kpn5_image"), "dncnn": (2, "dncnn"), "d3d": (3, "d3d"),
         "d2d_per_frame": (3, "d2d_per_frame"), "kpn_video": (3, "kpn5_video"), "vbm4d": (3, "bm4d"),
         "direct_average": (3, "direct_average"), "full": (4, "d3d"), "direct": (4, "direct"),
         "static_weights": (4, "static_weights"), "fixed": (4, "fixed_3x3x3"), "no_annealing": (4, "d3d_no_annealing"),
         "full_5": (4, "d3d_5x5x5"), "fixed_5": (4, "fixed_5x5x5")}


def xu_levels(results: pd.DataFrame) -> list[str]:
    """The noise levels of Tables 2-4 (other studies' rows in results.csv have levels of their own)."""
    return sorted(set(results[results.table.astype(str).isin(["2", "3", "4"])].level))


def _chain(results, table: int, methods: list[str], levels: list[str]) -> tuple[list[float] | None, str]:
    """The gaps of each method over the next one (avg PSNR) at every level, and their figures."""
    gaps, parts = [], []
    for level in levels:
        vals = [avg_psnr(results, table, m, level) for m in methods]
        if any(v is None for v in vals):
            return None, f"missing rows at {level}"
        gaps += [a - b for a, b in zip(vals, vals[1:])]
        chain = f"{methods[0]} {vals[0]:.2f}" + "".join(f" {relation(a, b)} {m} {b:.2f}"
                                                       for a, b, m in zip(vals, vals[1:], methods[1:]))
        parts.append(f"{level}: {chain}")
    return gaps, "; ".join(parts)


def _chains(claim: str, results, table: int, chains: list[list[str]], levels, labels: dict, margin_of) -> Finding:
    """chains: lists of roles, each claimed better than the next; a gap is judged against the margin of its pair."""
    gaps, margins, ev = [], [], []
    for roles in chains:
        g, e = _chain(results, table, [labels[r] for r in roles], levels)
        if g is None:
            return Finding(claim, "not measured", e)
        pairs = [margin_of(a, b) for a, b in zip(roles, roles[1:])]
        gaps += g
        margins += pairs * len(levels)
        ev.append(f"{e} (margin {' / '.join(f'{m:.2f}' for m in pairs)} dB)")
    return Finding(claim, decide(gaps, margins), " / ".join(ev))


def beside_the_paper(results: pd.DataFrame, ours: str, rival: str, levels: list[str], margin: float) -> Finding:
    """One comparison the paper does not make (a method after it), decided as its findings are: `ours` against
    `rival` in Table 3, blind and non-blind, at every level, with `margin` (the larger seed spread of the two)."""
    claim = f"{ours} against {rival} (after the paper; not one of its findings)"
    gaps, ev = [], []
    for blind in (0, 1):
        for level in levels:
            a, b = avg_psnr(results, 3, ours, level, blind), avg_psnr(results, 3, rival, level, blind)
            if a is not None and b is not None:
                gaps.append(a - b)
                ev.append(f"{'blind ' if blind else ''}{level}: {a:.2f} {relation(a, b)} {b:.2f}")
    if not gaps:
        return Finding(claim, "not measured", f"no rows of {rival}")
    return Finding(claim, decide(gaps, margin), "; ".join(ev) + f" (margin {margin:.2f} dB)")


def fastdvdnet_published(results: pd.DataFrame, fast: str, bm4d: str, levels: list[str]) -> list[str]:
    """FastDVDnet's published figures, and the one thing of them that compares with this run: its gap over video
    block matching (V-BM4D on Set8 there, BM4D in Table 3 here)."""
    pub = pd.read_csv(FASTDVDNET, comment="#")
    set8 = pub[pub.dataset.str.startswith("Set8")].pivot(index="dataset", columns="method", values="psnr")
    theirs = " / ".join(f"{d.split()[1]} {r.FastDVDnet - r['V-BM4D']:+.2f}" for d, r in set8.iterrows())
    ours = [(lv, avg_psnr(results, 3, fast, lv), avg_psnr(results, 3, bm4d, lv)) for lv in levels]
    mine = " / ".join(f"{lv} {a - b:+.2f}" for lv, a, b in ours if a is not None and b is not None)
    return [*published_markdown(FASTDVDNET),
            f"Another protocol (Gaussian noise on colour videos): only the gap over block matching compares. "
            f"FastDVDnet - V-BM4D on Set8, published: {theirs} dB (sigma); here, {fast} - {bm4d}: {mine} dB.", ""]


def _starting_share(frames: int, kernel_frames: int) -> float:
    """The share of a kt-frame kernel's samples off the reference frame on the regular grid, before training."""
    return 1 - 1 / kernel_frames if frames > 1 else 0.0


def all_findings(results: pd.DataFrame, motion: pd.DataFrame, shares_with: dict | None,
                 shares_without: dict | None, labels: dict, learned_video: set[str], margin: float,
                 kernel_frames: int = 3, paper_blind: set[tuple[int, str]] | None = None,
                 spreads: dict[str, float] | None = None,
                 twin_spreads: dict[tuple[int, str], float] | None = None,
                 quantity_margins: dict[str, float] | None = None) -> list[Finding]:
    """labels: the label of each role of ROLES in its table; learned_video: the labels of Table 3's learned
    methods; shares_*: level -> share of samples per frame index, with and without annealing; margin: the dB
    within which a difference is noise; kernel_frames: how many frames the 3D kernel spans; paper_blind: the
    (table, method) pairs the paper reports blind, the models finding (6) speaks of (None: every blind pair);
    spreads: role -> the measured seed spread of its model: two models compared in (1), (2) and (4) differ
    within noise when within the larger of their spreads (a role without one: `margin`); twin_spreads: (table,
    label) -> the larger seed spread of a blind model and its non-blind twin, the margin of that pair in (6);
    quantity_margins: the spreads of what (5) and (7) measure (Spreads.finding_margins; a missing one: none)."""
    L, levels = labels, xu_levels(results)
    spreads = spreads or {}

    def margin_of(a: str, b: str) -> float:
        return max(spreads.get(a, margin), spreads.get(b, margin))

    found = [_chains("(1) Deformable 2D beats KPN 5x5 and DnCNN on images", results, 2,
                     [["d2d", "kpn_image"], ["d2d", "dncnn"]], levels, L, margin_of),
             _chains("(2) Deformable 3D beats Deformable 2D per frame, which beats KPN 5x5, on video", results, 3,
                     [["d3d", "d2d_per_frame", "kpn_video"]], levels, L, margin_of)]
    found.append(finding_3(results, L, learned_video, levels, margin))
    found.append(_chains("(4) the full model beats each ablation of Table 4", results, 4,
                         [["full", a] for a in ("direct", "static_weights", "fixed", "no_annealing")]
                         + [["full_5", "fixed_5"]], levels, L, margin_of))
    quantity_margins = quantity_margins or {}
    found.append(finding_5(motion, L, quantity_margins.get("motion_gap_growth")))
    found.append(finding_6(results, levels, margin, paper_blind, twin_spreads or {}))
    found.append(finding_7(shares_with or {}, shares_without or {}, kernel_frames,
                           quantity_margins.get("off_reference_share")))
    return found


def finding_3(results: pd.DataFrame, L: dict, learned_video: set[str], levels: list[str], margin: float) -> Finding:
    claim = f"(3) every learned method beats {L['vbm4d']}, which beats direct averaging"
    gaps, ev = [], []
    for level in levels:
        v, d = avg_psnr(results, 3, L["vbm4d"], level), avg_psnr(results, 3, L["direct_average"], level)
        scores = {f"{m}{' (blind)' if b else ''}": avg_psnr(results, 3, m, level, b)
                  for m in learned_video for b in (0, 1)}
        scores = {k: s for k, s in scores.items() if s is not None}
        if v is None or d is None or not scores:
            return Finding(claim, "not measured", f"missing rows at {level}")
        worst = min(scores, key=scores.get)
        gaps += [scores[worst] - v, v - d]
        ev.append(f"{level}: weakest learned {worst} {scores[worst]:.2f}, {L['vbm4d']} {v:.2f}, "
                  f"direct average {d:.2f}")
    return Finding(claim, decide(gaps, margin), "; ".join(ev))


NO_MARGIN = "no margin: the budget study behind report.spreads did not measure this quantity's spread"


def decide_measured(gaps: list[float], margin: float | None) -> str:
    """decide() against a quantity's measured spread; without one (None), on the gaps' signs alone (the evidence
    then says NO_MARGIN)."""
    if margin is not None:
        return decide(gaps, margin)
    return "holds" if all(g > 0 for g in gaps) else "does not hold"


def finding_5(motion: pd.DataFrame, L: dict, margin: float | None = None) -> Finding:
    """The gap's growth from the highest frame rate to the lowest, against its spread over the budget study's
    seeds (`margin`, MSE; None: not measured, decided on its sign and said so)."""
    claim = "(5) the gap between 2D and 3D kernels grows as the frame rate falls"
    m2 = motion[motion.method == L["d2d_per_frame"]].set_index("fps").mse
    m3 = motion[motion.method == L["d3d"]].set_index("fps").mse
    if m2.empty or m3.empty:
        return Finding(claim, "not measured", "no motion results")
    gap = (m2 - m3).dropna().sort_index()
    lo, hi = gap.index.min(), gap.index.max()
    growth = gap[lo] - gap[hi]
    return Finding(claim, decide_measured([growth], margin),
                   f"MSE(2D) - MSE(3D): {gap[hi]:.2e} at {hi} fps, {gap[lo]:.2e} at {lo} fps; growth {growth:+.2e} ("
                   + (f"margin {margin:.2e}" if margin is not None else NO_MARGIN) + ")")


def finding_6(results: pd.DataFrame, levels: list[str], margin: float, paper_blind: set | None,
              twin_spreads: dict) -> Finding:
    claim = f"(6) blind models stay within {BLIND_TOLERANCE_DB} dB of their non-blind versions"
    differences, margins, ev = [], [], []
    for table in (2, 3):
        for m in sorted(set(results[(results.table.astype(str) == str(table)) & (results.blind == 1)].method)):
            # A blind twin the paper does not have (NLRN, from study gauss's paper) is shown, not counted: the
            # claim is about the paper's own blind models.
            counted = paper_blind is None or (table, m) in paper_blind
            for level in levels:
                b, n = avg_psnr(results, table, m, level, 1), avg_psnr(results, table, m, level, 0)
                if b is not None and n is not None:
                    pair = twin_spreads.get((table, m), margin)
                    if counted:
                        differences.append(n - b)
                        margins.append(pair)
                    ev.append(f"T{table} {m} {level}: {n - b:+.2f} dB "
                              + (f"(margin {pair:.2f} dB)" if counted else "(not in the paper)"))
    return Finding(claim, decide_within(differences, BLIND_TOLERANCE_DB, margins) if differences else "not measured",
                   "; ".join(ev) or "no blind/non-blind pair")


def finding_7(shares_with: dict, shares_without: dict, kernel_frames: int, margin: float | None = None) -> Finding:
    """The share of samples off the reference frame with annealing less without, at each level, against its
    spread over the budget study's seeds (`margin`, a share; None: not measured, decided on the signs and said so)."""
    claim = "(7) annealing spreads the samples over more frames"
    common = sorted(set(shares_with) & set(shares_without))
    if not common:
        return Finding(claim, "not measured", "no temporal shares")
    gaps, ev = [], []
    for level in common:
        ref = len(shares_with[level]) // 2
        off_with, off_without = 1 - shares_with[level][ref], 1 - shares_without[level][ref]
        gaps.append(off_with - off_without)
        ev.append(f"{level}: {off_with:.1%} with, {off_without:.1%} without annealing")
    start = _starting_share(len(shares_with[common[0]]), kernel_frames)
    return Finding(claim, decide_measured(gaps, margin), "share of samples off the reference frame: " + "; ".join(ev)
                   + f" (on the regular grid, before training: {start:.1%}; "
                   + (f"margin {margin:.1%}" if margin is not None else NO_MARGIN) + ")")


def _gap(results: pd.DataFrame, table: int, a: str, b: str, level: str) -> float | None:
    pa, pb = avg_psnr(results, table, a, level), avg_psnr(results, table, b, level)
    return None if pa is None or pb is None else pa - pb


def role_spreads(spec: Spec, measured: dict, margin: float) -> tuple[dict[str, float], dict[tuple[int, str], float]]:
    """From each model's measured seed spread (params key -> dB): the spread of each role of ROLES, and for (6) the
    larger spread of each blind model and its non-blind twin by (table, label); `margin` for a model unmeasured."""
    spreads = {role: float(measured[key]) for role, (_, key) in ROLES.items() if key in measured}
    twins = {}
    for table in (2, 3):
        for key, e in spec.models.items():
            if table in e.tables:
                pair = (table, entry_label(spec, key, table))
                twins[pair] = max(twins.get(pair, 0.0), float(measured.get(key, margin)))
    return spreads, twins


def read_paper(path: Path = PAPER) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"subset": str})


@STUDIES.register("xu2019")
class Xu2019(Study):
    title = "Deformable kernels for image and video denoising (Xu, Li, Sun 2019)"
    tables = (2, 3, 4, COLOUR)
    # the paper's two headlines: Deformable 2D against BM3D, Deformable 3D against the video block matching
    headline = ((2, "d2d"), (2, "bm3d"), (3, "d3d"), (3, "bm4d"))

    def shares(self, ev: Evidence, key: str) -> dict[str, list[float]]:
        return ev.info.get(key, {}).get("temporal_shares", {})

    def margins(self, ev: Evidence) -> tuple[float, dict[str, float], dict[str, float], dict]:
        """The findings' margins: the largest seed spread, each model's, each role's and each blind pair's."""
        margin = ev.spreads.margin_db
        measured = {k: v for k, v in ev.spreads.seed_spread_db.items() if k in ev.spec.models}
        return (margin, measured, *role_spreads(ev.spec, measured, margin))

    def findings(self, ev: Evidence, paper: pd.DataFrame) -> list[Finding]:
        """The seven findings, decided on the run `ev` holds."""
        spec = ev.spec
        labels = {role: ev.label(key, table) for role, (table, key) in ROLES.items()}
        # Finding (3) is about the paper's own learned methods: a model it does not have (FastDVDnet) is shown only.
        in_paper = set(paper.loc[paper.table.astype(str) == "3", "method"])
        learned_video = {ev.label(k, 3) for k, e in spec.models.items() if 3 in e.tables} & in_paper
        margin, _, spreads, twins = self.margins(ev)
        paper_blind = {(int(t), m) for t, m in paper.loc[paper.blind == 1, ["table", "method"]].itertuples(False)}
        return all_findings(ev.results, ev.motion, self.shares(ev, "d3d"), self.shares(ev, "d3d_no_annealing"),
                            labels, learned_video, margin, paper_blind=paper_blind, spreads=spreads,
                            twin_spreads=twins, quantity_margins=ev.spreads.finding_margins)

    def section(self, ev: Evidence) -> list[str]:
        spec, ours = ev.spec, ev.results
        paper = read_paper()
        paper_name = {e.label: e.paper for e in spec.baselines.values() if e.paper}
        levels = xu_levels(ours)
        md = ["The paper's averages stand beside ours; its subsets are other videos, so only averages compare. "
              "Classical methods are non-blind and denoise after a generalised Anscombe transform; BM4D on the "
              "spatio-temporal volume stands in for VBM4D (no Python package).", ""]
        for table in (2, 3, 4):
            for level in levels:
                md += [f"## {TITLES[table]}, {level} noise", "", table_markdown(ours, paper, table, level, paper_name),
                       ""]
        margin, measured, spreads, _ = self.margins(ev)
        md += ["## Which of the paper's findings hold in this run", "",
               "A difference is \"within noise\" when it is within the spread of the same training run again "
               f"(from {spec.report.spreads}: {ev.spreads.study}): in "
               "(1), (2), (4) and (6) the larger spread of the two models compared ("
               + ", ".join(f"{spec.models[k].label} ({k}) {float(v):.2f} dB" for k, v in measured.items())
               + f"; {margin:.2f} dB, the largest spread between seeds, for a model the study did not train), "
               f"{margin:.2f} dB in (3), and in (5) and (7) the spread of the quantity itself over the same runs "
               "(the MSE gap's growth, the share of samples off the reference frame), where the study measured it.",
               "",
               "| finding | verdict | evidence |", "|---|---|---|"]
        found = ev.keep(self.findings(ev, paper))
        md += [f"| {f.claim} | {f.verdict} | {f.evidence} |" for f in found] + [""]
        if "fastdvdnet" in spec.models and 3 in spec.models["fastdvdnet"].tables:
            fast = beside_the_paper(ours, ev.label("d3d", 3), ev.label("fastdvdnet", 3), levels,
                                    max(spreads.get("d3d", margin), float(measured.get("fastdvdnet", margin))))
            md += ["Beside the paper, with the same margins:", "", "| comparison | verdict | evidence |",
                   "|---|---|---|", f"| {fast.claim} | {fast.verdict} | {fast.evidence} |", "",
                   *fastdvdnet_published(ours, ev.label("fastdvdnet", 3), ev.label("bm4d", 3), levels)]
        md += self.appendix_b(ev, margin, spreads)
        if ev.beside is not None:
            md += self.as_the_budget_grows(ev, paper, found)
        self.draw(ev, self.shares(ev, "d3d"), self.shares(ev, "d3d_no_annealing"))
        return md

    def appendix_b(self, ev: Evidence, margin: float, spreads: dict[str, float]) -> list[str]:
        """Table colour, the claim of Appendix B (decided with the larger seed spread of its two models) and
        Figure 12, where the run has colour rows."""
        levels = sorted(set(ev.results[ev.results.table.astype(str) == COLOUR].level))
        if ev.colour is None or not levels:
            return []
        d3d, kpn = ROLES["d3d"][1], ROLES["kpn_video"][1]
        if not all(k in ev.spec.models and in_colour(ev.spec.models[k]) for k in (d3d, kpn)):
            found = Finding("(8) Appendix B: colour artefacts at edges", "not measured",
                            f"{d3d} and {kpn} are not both in table colour")
        else:
            outputs = {k: ev.outputs(k) for k in (kpn, d3d)}  # read once for the finding and the figure
            found = colour_finding(ev, outputs, d3d, kpn, levels,
                                   max(spreads.get("d3d", margin), spreads.get("kpn_video", margin)))
            draw_figure12(ev, outputs, sorted(ev.noisy)[0])
        return colour_section(ev, levels, ev.keep([found])[0])

    def as_the_budget_grows(self, ev: Evidence, paper: pd.DataFrame, found: list[Finding]) -> list[str]:
        """This run's verdicts beside those of another run of the study (report.beside), decided by the same code
        and margins, and the paper's two headlines in both."""
        other = ev.beside
        steps = {"this": ev.spec.train.steps, "other": other.steps}
        head = (f"| | this run ({ev.spec.report.profile} profile, {steps['this']:,} steps) | "
                f"{other.profile} profile ({steps['other']:,} steps) |")
        md = [f"## As the budget grows: this run beside the {other.profile} profile's", "",
              f"The {other.profile} profile's report is {ev.spec.report.beside}/tables.md; its findings are decided "
              f"here again, by this code and with this run's margins ({ev.spec.report.spreads}). "
              "Headlines: the mean PSNR over the test subsets, learned model minus the classical method of its "
              "table (dB, high / low noise).", "", head, "|---|---|---|"]
        for table, model, classical in ((2, "d2d", "bm3d"), (3, "d3d", "bm4d")):
            cells = []
            for results in (ev.results, other.results):
                gaps = [_gap(results, table, ev.label(model, table), ev.label(classical, table), lv)
                        for lv in xu_levels(ev.results)]
                cells.append(" / ".join("-" if g is None else f"{g:+.2f}" for g in gaps))
            md.append(f"| {ev.label(model, table)} - {ev.label(classical, table)} | {cells[0]} | {cells[1]} |")
        theirs = self.findings(other.evidence(ev), paper)
        md += [f"| {a.claim} | {a.verdict} | {b.verdict} |" for a, b in zip(found, theirs)]
        return md + [""]

    def draw(self, ev: Evidence, with_: dict, without: dict) -> None:
        out = ev.figures
        if not ev.motion.empty:
            figures.motion_curve(ev.motion, out / "figure8_motion.png")
            ev.made.append("figure8_motion.png")
        shares = {f"{ev.label(k, 3)}, {lv}": s[lv] for lv in sorted(ev.noisy)
                  for k, s in (("d3d", with_), ("d3d_no_annealing", without)) if lv in s}
        if shares:
            figures.temporal_shares(shares, out / "figure9_temporal.png")
            ev.made.append("figure9_temporal.png")
        level = sorted(ev.noisy)[0]  # the figures of crops show one level: the first in name order
        tau = ev.test["frames"].shape[1] // 2
        noisy = ev.noisy[level]["test"]
        for table in (2, 3):
            outputs = {}
            for key in ev.keys_in_table(table):
                o = ev.outputs(key)
                if level in o:
                    blind = key in ev.spec.models and ev.spec.models[key].args.get("blind", False)
                    outputs[f"{ev.label(key, table)}{' (blind)' if blind else ''}"] = o[level][0]
            figures.crops(noisy[0, tau], ev.test["frames"][0, tau], outputs, out / f"figure5_crops_table{table}.png")
            ev.made.append(f"figure5_crops_table{table}.png")
        kernels = ev.info.get("d3d", {}).get("kernels", {})
        if level in kernels:
            figures.kernels(noisy[0], kernels[level], ev.label("d3d", 3), out / "figure10_kernels.png")
            ev.made.append("figure10_kernels.png")
