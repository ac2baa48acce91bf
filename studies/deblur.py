"""Study `deblur`: SVRNN (Zhang et al., CVPR 2018) on blur averaged from 240 fps frames (the GoPro protocol),
against the suite's U-Net at about the same parameter count and budget, and Richardson-Lucy deconvolution with
each window's global-motion kernel measured on the sharp frames (an oracle: no real capture has it).

Table `deblur` of results.csv (levels n7, n13: frames averaged; subset k: the k-th test clip), the published GoPro
figure beside ours (other frames: only the order compares), parameters, speed, memory and the measured receptive
fields (the paper's claim is accuracy per size and time), two findings and a figure of crops.
"""
from __future__ import annotations


import pandas as pd

from core.frames import load_shard
from core.paths import BLUR, PAPER
from core.registry import STUDIES
from studies import figures
from studies.base import (Evidence, Finding, Study, avg_psnr, decide, findings_markdown, published_markdown,
                          table_markdown)

TABLE = "deblur"
PUBLISHED = PAPER / "deblur_published.csv"
DATA = BLUR
ROLES = {"svrnn": "svrnn", "cnn": "unet_deblur"}
WIDER = 2.0  # "much larger": at least twice the CNN's radius
CLAIMS = ["(1) SVRNN beats a plain CNN of about its size trained with the same budget",
          f"(2) SVRNN's receptive field is much larger (at least {WIDER:g}x) than the CNN's"]


def levels_of(results: pd.DataFrame) -> list[str]:
    return sorted(set(results[results.table.astype(str) == TABLE].level), key=lambda lv: int(lv[1:]))


def findings(results: pd.DataFrame, labels: dict[str, str | None], fields: dict[str, dict | None],
             margin: float) -> list[Finding]:
    """labels: each role's label; fields: each role's measured receptive field (info.json), None if missing."""
    levels = levels_of(results)
    psnr = {(r, lv): avg_psnr(results, TABLE, labels.get(r), lv, blind=None) for r in ROLES for lv in levels}
    if not levels or any(v is None for v in psnr.values()):
        first = Finding(CLAIMS[0], "not measured", "no SVRNN or CNN rows in table deblur")
    else:
        first = Finding(CLAIMS[0], decide([psnr["svrnn", lv] - psnr["cnn", lv] for lv in levels], margin),
                        " | ".join(f"{lv}: {labels['svrnn']} {psnr['svrnn', lv]:.2f}, {labels['cnn']} "
                                   f"{psnr['cnn', lv]:.2f}" for lv in levels))
    if any(fields.get(r) is None for r in ROLES):
        return [first, Finding(CLAIMS[1], "not measured", "no receptive field in info.json")]
    s, c = fields["svrnn"], fields["cnn"]
    ratio = s["radius_95"] / max(c["radius_95"], 1)
    # Much larger at every pixel measured, not only in the medians: SVRNN's smallest field beyond the CNN's largest.
    apart = span(s)[0] > span(c)[1]
    verdict = "holds" if ratio >= WIDER and apart else "does not hold" if ratio <= 1 else "within noise"
    return [first, Finding(CLAIMS[1], verdict, f"95% of the gradient within {field_words(s)} (SVRNN) and "
                           f"{field_words(c)} (CNN), ratio of the medians {ratio:.1f}; any gradient out to "
                           f"{s['extent']:g} and {c['extent']:g} px" + start_words(s, c))]


def span(field: dict) -> list[float]:
    return field.get("radius_95_range", [field["radius_95"]] * 2)


def field_words(field: dict) -> str:
    lo, hi = span(field)
    h, w = field["frame"]
    return (f"{field['radius_95']:g} px (median; {lo:g}-{hi:g} over {field.get('measured', 1)} pixels of "
            f"{w}x{h} inputs)")


def start_words(s: dict, c: dict) -> str:
    """The same measure at each network's seeded start, untrained: whether training widened or shrank it."""
    if "untrained" not in s or "untrained" not in c:
        return ""
    su, cu = s["untrained"]["radius_95"], c["untrained"]["radius_95"]
    return (f"; untrained, at their seeded starts: {su:g} and {cu:g} px (training moved them by "
            f"{s['radius_95'] - su:+g} and {c['radius_95'] - cu:+g} px)")


def field_of(info: dict) -> dict | None:
    """A model's measured receptive field (info.json), with its untrained start's beside it when measured."""
    if "receptive_field" not in info:
        return None
    start = info.get("receptive_field_untrained")
    return {**info["receptive_field"], **({"untrained": start} if start else {})}


@STUDIES.register("deblur")
class Deblurring(Study):
    title = "Deblurring with the spatially variant RNN (Zhang et al. 2018)"
    tables = (TABLE,)

    def section(self, ev: Evidence) -> list[str]:
        spec, ours = ev.spec, ev.results
        md = ["Blurry frames are the mean of n consecutive 240 fps frames in linear light, the target the middle "
              f"sharp frame (degradations/blur.py); clips of `{spec.motion.source}`: test clips "
              f"{', '.join(spec.deblur.test_clips)} (subsets #1, #2, ...), the others train. SVRNN and the "
              "U-Net are blind, trained on every odd length from 7 to 13 with the budget and rate grid of every "
              "learned model; Richardson-Lucy gets each window's kernel of global motion measured on its sharp "
              "frames (an oracle; it cannot follow the moving foreground), its iterations tuned on validation.", ""]
        for level in levels_of(ours):
            md += [f"## Table deblur, {level[1:]} frames averaged (PSNR / SSIM)", "",
                   table_markdown(ours, None, TABLE, level, {}), ""]
        md += published_markdown(PUBLISHED)
        md += ["GoPro: RGB 1280x720 frames of real scenes, models trained for days on a GPU; ours: grey frames, "
               "CPU budgets and sizes (params.yaml): only the order compares.", ""]
        keys = ev.keys_in_table(TABLE)
        labels = {role: ev.label(key, TABLE) for role, key in ROLES.items()}
        fields = {role: field_of(ev.info.get(key, {})) for role, key in ROLES.items()}
        margin = ev.spreads.margin_db
        md += findings_markdown(ev.keep(findings(ours, labels, fields, margin)), margin)
        md += ["| method | parameters | megapixels / s (CPU) | peak memory of its stage (MB) | receptive field, "
               "95% of the gradient (px) |", "|---|---|---|---|---|"]
        for k in keys:
            i = ev.info.get(k)
            if i is None:
                continue
            rf = field_words(i["receptive_field"]) if "receptive_field" in i else "-"
            size = f"{i['parameters']:,}" if "parameters" in i else "-"
            md.append(f"| {i['label']} ({k}) | {size} | "
                      f"{i['megapixels_per_second']:.3f} | {i.get('peak_memory_mb', '-')} | {rf} |")
        md += [""]
        self.draw(ev, keys)
        md += ["Figure: `figures/figure_deblur_crops.png` (the first test window at the longest blur)", ""]
        return md

    def draw(self, ev: Evidence, keys: list[str]) -> None:
        levels = sorted((p.stem for p in (DATA / "blurry").glob("*.npz")), key=lambda lv: int(lv[1:]))
        if not levels:
            return
        level = levels[-1]
        clean, blurry = load_shard(DATA / "clean.npz")["frames"], load_shard(DATA / "blurry" / f"{level}.npz")["test"]
        restorers = [k for k in keys if k not in ev.spec.baselines or ev.spec.baselines[k].method != "reference_frame"]
        outputs = {ev.label(k, TABLE): ev.outputs(k)[level][0] for k in restorers
                   if k in ev.info and level in ev.outputs(k)}
        figures.crops(blurry[0, 0], clean[0, clean.shape[1] // 2], outputs, ev.figures / "figure_deblur_crops.png",
                      input_label="blurry")
        ev.made.append("figure_deblur_crops.png")
