"""Study xu2019's Appendix B: colour video, each grey method run on R, G and B separately (table `colour`), the
paper's claim that Deformable 3D leaves fewer colour artefacts at edges than KPN (Figure 12), measured, and the
figure, at a window chosen by a rule of this file."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.metrics import to_display
from core.results import COLOUR
from studies import figures
from studies.base import Evidence, Finding, decide, relation, table_markdown

EDGE_SHARE = 0.1  # the pixels with the strongest luma gradient of a clean frame: "at edges"
WINDOW = 32  # Figure 12's crop, px


def _gradient(planes: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of each plane [..., H, W] (same shape)."""
    return np.hypot(ndimage.sobel(planes, axis=-1), ndimage.sobel(planes, axis=-2))


def edge_mask(clean: np.ndarray) -> np.ndarray:
    """The EDGE_SHARE of pixels of a clean colour frame [3, H, W] (linear) with the strongest sRGB gradient, its
    channels' together (an edge between two colours of one brightness is an edge too); ties in pixel order, and
    never a flat pixel."""
    g = np.sqrt((_gradient(to_display(clean)) ** 2).sum(0))
    mask = np.zeros(g.size, bool)
    mask[np.argsort(g, axis=None, kind="stable")[-max(1, round(EDGE_SHARE * g.size)):]] = True
    return mask.reshape(g.shape) & (g > 0)


def chroma_error(out: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The squared error off the grey axis per pixel [H, W] of sRGB colour planes: what a colour artefact is (an
    error equal in R, G and B changes brightness, not colour)."""
    e = to_display(out) - to_display(clean)
    return ((e - e.mean(0)) ** 2).mean(0)


def edge_chroma_psnr(outputs: np.ndarray, clean: np.ndarray) -> float:
    """Colour artefacts at edges as a PSNR (dB, higher: fewer): the chroma error over the edge pixels of every
    test frame [n, 3, H, W] (linear), pooled."""
    errors = np.concatenate([chroma_error(o, c)[edge_mask(c)] for o, c in zip(outputs, clean)])
    return float(10 * np.log10(1 / max(errors.mean(), 1e-20)))


def figure12_window(clean: np.ndarray) -> tuple[int, int, int]:
    """(sequence, top, left) of the WINDOW px window, on a grid of half its side over every clean test frame
    [n, 3, H, W], where colour changes most across edges: the largest sum of the chroma planes' gradient."""
    shown = to_display(clean)
    chroma = shown - shown.mean(1, keepdims=True)
    strength = _gradient(chroma).sum(1)  # [n, H, W]
    size = min(WINDOW, *strength.shape[1:])
    step = max(size // 2, 1)
    best, where = -1.0, (0, 0, 0)
    for i, s in enumerate(strength):
        for y in range(0, s.shape[0] - size + 1, step):
            for x in range(0, s.shape[1] - size + 1, step):
                total = s[y:y + size, x:x + size].sum()
                if total > best:
                    best, where = total, (i, y, x)
    return where


def colour_finding(ev: Evidence, outputs: dict[str, dict], d3d: str, kpn: str, levels: list[str],
                   margin: float) -> Finding:
    """Appendix B's claim, at every level: Deformable 3D's chroma PSNR at edges above KPN 5x5's by more than
    `margin` (the larger seed spread of the two models' grey PSNR: this quantity's own spread is not measured);
    outputs: each model's restored frames by params key (ev.outputs)."""
    claim = "(8) Appendix B: in colour, Deformable 3D leaves fewer colour artefacts at edges than KPN 5x5"
    clean = ev.colour["frames"][:, ev.colour["frames"].shape[1] // 2]
    gaps, parts = [], []
    for level in levels:
        if any(f"{level}_{COLOUR}" not in o for o in outputs.values()):
            return Finding(claim, "not measured", f"no colour outputs of {d3d} and {kpn} at {level}")
        a, b = (edge_chroma_psnr(outputs[k][f"{level}_{COLOUR}"], clean) for k in (d3d, kpn))
        gaps.append(a - b)
        parts.append(f"{level}: {a:.2f} {relation(a, b)} {b:.2f} dB")
    return Finding(claim, decide(gaps, margin),
                   f"chroma PSNR at the {EDGE_SHARE:.0%} strongest edges, {ev.label(d3d, 3)} vs {ev.label(kpn, 3)}: "
                   + "; ".join(parts) + f" (margin {margin:.2f} dB: the larger grey seed spread of the two)")


def colour_section(ev: Evidence, levels: list[str], found: Finding) -> list[str]:
    """Table colour at every level, finding (8) and Figure 12."""
    n, t = ev.colour["frames"].shape[:2]
    md = ["## Appendix B: colour video", "",
          f"The same {n} test sequences in colour, raw noise drawn on each of R, G and B at the test levels. "
          "Each learned grey model restores the three channels separately, as the paper does; so do the classical "
          "methods, at their grey-tuned strengths, except BM3D, whose package has a colour form, CBM3D "
          "(bm3d.bm3d_rgb: an opponent colour transform, blocks matched on its luminance). PSNR / SSIM on RGB "
          "sRGB (SSIM: the mean of the channels'). The paper shows colour as a figure only: no published figures.",
          ""]
    for level in levels:
        md += [f"### Table colour, {level} noise", "", table_markdown(ev.results, None, COLOUR, level, {}), ""]
    md += ["| finding | verdict | evidence |", "|---|---|---|",
           f"| {found.claim} | {found.verdict} | {found.evidence} |", ""]
    return md


def draw_figure12(ev: Evidence, outputs: dict[str, dict], level: str) -> None:
    """Figure 12: the window of figure12_window, noisy, restored by each model of `outputs` (restored frames by
    params key; those with colour outputs at `level`) and clean."""
    clean = ev.colour["frames"]
    tau = clean.shape[1] // 2
    i, y, x = figure12_window(clean[:, tau])
    size = min(WINDOW, *clean.shape[-2:])
    crop = np.s_[..., y:y + size, x:x + size]
    shown = {ev.label(k, 3): o[f"{level}_{COLOUR}"][i][crop] for k, o in outputs.items() if f"{level}_{COLOUR}" in o}
    figures.crops(ev.noisy[level]["test_colour"][i, tau][crop], clean[i, tau][crop], shown,
                  ev.figures / "figure12_colour.png")
    ev.made.append("figure12_colour.png")
