"""The report's figures (PNG under reports/figures/): Figures 5 and 12 (crops, grey and colour), 8 (motion), 9
(temporal shares) and 10 (learned kernels), redrawn from this run's outputs."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.config import atomic_write  # noqa: E402
from core.metrics import psnr, to_display  # noqa: E402


def _save(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"), suffix=".png")
    plt.close(fig)


def motion_curve(motion: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for method, rows in motion.groupby("method"):
        rows = rows.sort_values("fps", ascending=False)
        ax.plot(rows.fps.astype(str), rows.mse, marker="o", label=method)
    ax.set_xlabel("frame rate (fps): motion grows to the right")
    ax.set_ylabel("MSE (sRGB)")
    ax.set_title("Figure 8: error against motion level")
    ax.legend()
    _save(fig, path)


def temporal_shares(shares: dict[str, list[float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 3.4))
    width = 0.8 / max(len(shares), 1)
    for i, (label, s) in enumerate(shares.items()):
        ax.bar(np.arange(len(s)) + i * width, s, width, label=label)
    n = len(next(iter(shares.values())))
    ax.set_xticks(np.arange(n) + width * (len(shares) - 1) / 2, [f"t{k - n // 2:+d}" for k in range(n)])
    ax.set_ylabel("share of samples")
    ax.set_title("Figure 9: where the 3D kernels sample in time")
    ax.legend()
    _save(fig, path)


def crops(noisy: np.ndarray, clean: np.ndarray, outputs: dict[str, np.ndarray], path: Path,
          input_label: str = "noisy") -> None:
    """Figures 5 and 12: the same crop, degraded, by each method, and the ground truth, in sRGB with PSNR; grey
    frames [H, W] or colour planes [3, H, W]."""
    panels = [(input_label, noisy), *outputs.items(), ("ground truth", clean)]
    cols = min(5, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.6 * rows))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (label, img) in zip(np.ravel(axes), panels):
        shown = to_display(img)
        ax.imshow(np.moveaxis(shown, 0, -1) if shown.ndim == 3 else shown, cmap="gray", vmin=0, vmax=1)
        score = "" if label == "ground truth" else f"\n{psnr(shown, to_display(clean)):.2f} dB"
        ax.set_title(f"{label}{score}", fontsize=8)
    _save(fig, path)


def kernels(frames: np.ndarray, examples: list[dict], label: str, path: Path) -> None:
    """Figure 10: each frame of the sequence with the samples a learned 3D kernel takes there, sized by |weight|."""
    t = frames.shape[0]
    fig, axes = plt.subplots(1, t, figsize=(2.4 * t, 2.6))
    colours = plt.cm.tab10(np.arange(len(examples)))
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(to_display(frames[k]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"frame t{k - t // 2:+d}", fontsize=8)
        ax.axis("off")
        for colour, ex in zip(colours, examples):
            pos, w = np.array(ex["positions"]), np.abs(np.array(ex["weights"]))
            near = np.round(pos[:, 2]).astype(int) == k
            ax.scatter(pos[near, 0], pos[near, 1], s=4 + 60 * w[near] / max(w.max(), 1e-12), color=colour,
                       edgecolors="white", linewidths=0.3)
            if k == t // 2:
                ax.plot(*ex["pixel"], marker="+", color="red", markersize=8)
    fig.suptitle(f"Figure 10: sample positions of {label} (marker size ~ |weight|)", fontsize=9)
    _save(fig, path)
