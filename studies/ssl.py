"""Study `ssl`: training without clean data, Noise2Noise (Lehtinen et al. 2018) -> Noise2Void (Krull et al. 2019)
-> HQ-SSL (Laine et al. 2019), beside Noise2Clean on the same backbone and budget, on the suite's raw noise.

Table `ssl` of results.csv; the published figures beside ours (other images and noise: only the gaps compare);
three findings decided from this run's numbers; the models trained on the test frames themselves, which
self-supervision allows, as labelled extra rows outside the findings.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.paths import PAPER
from core.registry import STUDIES
from studies import figures
from studies.base import (Evidence, Finding, Study, avg_psnr, decide, decide_within, findings_markdown,
                          published_markdown, sizes_markdown, table_markdown)

TABLE = "ssl"
PUBLISHED = PAPER / "ssl_published.csv"
# (params key) of each role the findings compare.
ROLES = {"n2c": "n2c", "n2n": "n2n", "n2v": "n2v", "hqssl": "hqssl"}
CLOSE_DB = 0.5  # "N2N stays close to N2C": Laine et al. report 0.01-0.03 dB; we allow the blind finding's slack


@dataclass
class Gaps:
    """avg PSNR of each role at one level."""
    level: str
    psnr: dict[str, float]


def findings(results: pd.DataFrame, labels: dict[str, str | None], margin: float) -> list[Finding]:
    """The study's three claims at every level; labels: the label of each role of ROLES."""
    levels = sorted(set(results[results.table.astype(str) == TABLE].level))
    per_level = []
    for level in levels:
        values = {role: avg_psnr(results, TABLE, labels.get(role), level, blind=None) for role in ROLES}
        if any(v is None for v in values.values()):
            missing = ", ".join(r for r, v in values.items() if v is None)
            return [Finding(c, "not measured", f"no {missing} rows at {level}") for c in CLAIMS]
        per_level.append(Gaps(level, values))

    def show(g: Gaps, *roles) -> str:
        return f"{g.level}: " + ", ".join(f"{labels[r]} {g.psnr[r]:.2f}" for r in roles)

    close = [g.psnr["n2n"] - g.psnr["n2c"] for g in per_level]
    below = [g.psnr["n2c"] - g.psnr["n2v"] for g in per_level]
    # "Most of the gap": HQ-SSL above the midpoint of N2V and N2C, i.e. more than half the gap closed.
    closes = [g.psnr["hqssl"] - (g.psnr["n2v"] + g.psnr["n2c"]) / 2 for g in per_level]
    share = "; ".join(f"{g.level}: {100 * (g.psnr['hqssl'] - g.psnr['n2v']) / (g.psnr['n2c'] - g.psnr['n2v']):.0f}% "
                      "of the N2V-N2C gap closed" if g.psnr["n2c"] != g.psnr["n2v"] else f"{g.level}: no gap"
                      for g in per_level)
    return [Finding(CLAIMS[0], decide_within(close, CLOSE_DB, margin),
                    " | ".join(show(g, "n2c", "n2n") for g in per_level)),
            Finding(CLAIMS[1], decide(below, margin), " | ".join(show(g, "n2c", "n2v") for g in per_level)),
            Finding(CLAIMS[2], decide(closes, margin),
                    " | ".join(show(g, "n2v", "hqssl", "n2c") for g in per_level) + f" ({share})")]


CLAIMS = [f"(1) Noise2Noise stays within {CLOSE_DB} dB of Noise2Clean",
          "(2) Noise2Void falls clearly below Noise2Clean",
          "(3) HQ-SSL closes most (more than half) of the Noise2Void-Noise2Clean gap"]


@STUDIES.register("ssl")
class SelfSupervised(Study):
    title = "Training without clean data: Noise2Noise, Noise2Void, HQ-SSL (Lehtinen 2018, Krull 2019, Laine 2019)"
    tables = (TABLE,)

    def section(self, ev: Evidence) -> list[str]:
        ours = ev.results
        levels = sorted(set(ours[ours.table.astype(str) == TABLE].level))
        keys = ev.keys_in_table(TABLE)
        md = ["Every learned model of this table has the same U-Net backbone (HQ-SSL: the same U-Net made blind, "
              "its four rotations sharing weights), the same budget and the same rate grid as Tables 2-4, and is "
              "blind: the network never sees the noise map, which is computed from the very pixel a blind spot "
              "hides (HQ-SSL uses it after the network, in its posterior mean). Noise2Clean and Noise2Noise share "
              "the L2 loss on linear intensities, so their gap is the target alone. The rate of every model, "
              "self-supervised ones included, is chosen on the clean validation split, as for every learned "
              "model of the suite; a user without clean data would choose by the validation loss.", ""]
        for level in levels:
            md += [f"## Table ssl, {level} noise (PSNR / SSIM)", "", table_markdown(ours, None, TABLE, level, {}), ""]
        md += ["Rows marked \"trained on the test frames\" are a self-supervised model trained on the noisy test "
               "frames of that level alone (the same budget): what a user with only their own footage gets. "
               "They see the test inputs in training, so they stay out of the findings.", ""]
        md += published_markdown(PUBLISHED)
        md += ["The published figures are RGB images with Gaussian noise of sigma 25 (8-bit scale), trained for "
               "days on ImageNet; ours are grey frames with signal-dependent raw noise and a CPU budget: only the "
               "gaps between rows compare.", ""]
        labels = {role: ev.label(key, TABLE) for role, key in ROLES.items()}
        margin = ev.spreads.margin_db
        md += findings_markdown(ev.keep(findings(ours, labels, margin)), margin)
        md += sizes_markdown(ev, keys)
        self.draw(ev, keys)
        return md

    def draw(self, ev: Evidence, keys: list[str]) -> None:
        level = sorted(ev.noisy)[0]
        tau = ev.test["frames"].shape[1] // 2
        outputs = {}
        for key in keys:
            o = ev.outputs(key)
            if level in o:
                outputs[ev.label(key, TABLE)] = o[level][0]
        noisy = ev.noisy[level]["test"]
        figures.crops(noisy[0, tau], ev.test["frames"][0, tau], outputs, ev.figures / "figure_ssl_crops.png")
        ev.made.append("figure_ssl_crops.png")
