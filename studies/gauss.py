"""Study `gauss`: NLRN (Liu et al., NeurIPS 2018) on its own protocol, Gaussian noise of sigma 15, 25 and 50 on
grey sRGB images, against DnCNN and BM3D (the true sigma), with NLRN's two ablations.

Table `gauss` of results.csv (levels s15, s25, s50; subset #1: crops of photographs no training video uses,
#2: the suite's test reference frames); the published BSD68 / Set12 figures beside ours (other images, and
networks trained for days: only the order and the gaps compare); three findings decided from this run.
"""
from __future__ import annotations


import pandas as pd

from core.paths import PAPER
from core.registry import STUDIES
from studies.base import (Evidence, Finding, Study, avg_psnr, decide, findings_markdown, published_markdown,
                          sizes_markdown, table_markdown)

TABLE = "gauss"
PUBLISHED = PAPER / "gauss_published.csv"
# (params key) of each role the findings compare.
ROLES = {"nlrn": "nlrn_gauss", "dncnn": "dncnn_gauss", "bm3d": "bm3d_gauss", "larger": "nlrn_gauss_q11",
         "no_propagation": "nlrn_gauss_no_propagation"}
CLAIMS = ["(1) NLRN beats DnCNN, which beats BM3D, at each sigma",
          "(2) a restricted neighbourhood beats a larger one (NLRN against its larger-neighbourhood ablation)",
          "(3) correlation propagation helps (NLRN against its ablation without it)"]


def findings(results: pd.DataFrame, labels: dict[str, str | None], margin: float) -> list[Finding]:
    """The three claims over every level of the table; labels: the label of each role of ROLES."""
    levels = sorted(set(results[results.table.astype(str) == TABLE].level), key=lambda lv: float(lv[1:]))
    psnr = {(role, lv): avg_psnr(results, TABLE, labels.get(role), lv, blind=None) for role in ROLES for lv in levels}
    missing = sorted({role for (role, _), v in psnr.items() if v is None})
    if missing or not levels:
        return [Finding(c, "not measured", f"no rows of {', '.join(missing) or 'any method'}") for c in CLAIMS]

    def gaps(better: str, rival: str) -> list[float]:
        return [psnr[better, lv] - psnr[rival, lv] for lv in levels]

    def show(*roles: str) -> str:
        return " | ".join(f"{lv}: " + ", ".join(f"{labels[r]} {psnr[r, lv]:.2f}" for r in roles) for lv in levels)

    return [Finding(CLAIMS[0], decide(gaps("nlrn", "dncnn") + gaps("dncnn", "bm3d"), margin),
                    show("nlrn", "dncnn", "bm3d")),
            Finding(CLAIMS[1], decide(gaps("nlrn", "larger"), margin), show("nlrn", "larger")),
            Finding(CLAIMS[2], decide(gaps("nlrn", "no_propagation"), margin), show("nlrn", "no_propagation"))]


@STUDIES.register("gauss")
class GaussianNoise(Study):
    title = "Non-local recurrent network: Gaussian noise on grey images (Liu et al. 2018)"
    tables = (TABLE,)

    def section(self, ev: Evidence) -> list[str]:
        spec, ours = ev.spec, ev.results
        levels = sorted(set(ours[ours.table.astype(str) == TABLE].level), key=lambda lv: float(lv[1:]))
        photos = ", ".join(spec.gauss.photographs)
        md = ["Grey images in sRGB with white Gaussian noise of sigma 15, 25 and 50 on the 8-bit scale, the protocol "
              "of NLRN's paper (degradations/gauss.py). Subset #1: crops of photographs that no training video uses "
              f"({photos}; skimage.data); #2: the reference frames of the suite's test sequences. DnCNN and NLRN are "
              "each one non-blind model trained over sigma 5-55 on the suite's training frames, with the budget and "
              "rate grid of every learned model; BM3D gets the true sigma. Metrics are the suite's: sRGB clipped "
              "to [0, 1], so the noisy input scores above the textbook 20*log10(255/sigma).", ""]
        for level in levels:
            md += [f"## Table gauss, sigma {level[1:]} (PSNR / SSIM)", "",
                   table_markdown(ours, None, TABLE, level, {}), ""]
        md += published_markdown(PUBLISHED)
        md += ["The published figures are on BSD68 and Set12 with models trained per sigma for days on a GPU at "
               "the paper's sizes (NLRN: 128 filters, 12 states, 45x45 neighbourhood); ours: other images, 2-core "
               "budgets and sizes (params.yaml): only the order and the gaps compare.", ""]
        labels = {role: ev.label(key, TABLE) for role, key in ROLES.items()}
        margin = ev.spreads.margin_db
        md += findings_markdown(ev.keep(findings(ours, labels, margin)), margin)
        md += sizes_markdown(ev, ev.keys_in_table(TABLE))
        md += ["Speed and peak memory of NLRN against DnCNN on the same frames, tiled and untiled: "
               "`python -m tools.benchmark nlrn` (README).", ""]
        return md
