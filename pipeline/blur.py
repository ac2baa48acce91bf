"""Stage `blur`: the data of study deblur from 240 fps clips (`motion.source`: the rendered clips, or real
Adobe240 clips), after the GoPro protocol (degradations/blur.py).

Each clip becomes grey linear frames at `data.height`. The clips named in `deblur.test_clips` give the test
windows (`deblur.windows_per_clip` disjoint windows of 13 sharp frames each, centred crops of `scenes.test_crop`;
subset k = the k-th test clip); every other clip is a training clip: its training windows (any start) end before
its last 2 x 13 frames, which give two validation windows, so no frame is both trained on and validated on.
Writes data/blur/train/<clip>.npz (frames, starts), val.npz and clean.npz (frames [n, 13, S, S], subset), and
the blurry copies per level, data/blur/blurry/<level>.npz (test, val: [n, 1, S, S]; the level's parameters;
psf_test, psf_val: each window's oracle blur kernel of its global motion, for the classical deconvolution).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.clips import list_clips, read_clip
from core.config import InputError, stage_main
from core.frames import center_crop, save_shard, to_grey_linear
from core.paths import BLUR
from core.test_sets import make_test_sets
from core.spec import load_spec
from degradations.blur import WINDOW, Blur

OUT = BLUR


def split_clips(clips: list[Path], test_names: list[str]) -> tuple[list[Path], list[Path]]:
    """(train, test) clips; every name of `deblur.test_clips` must be a clip, and at least one clip must train."""
    stems = {c.stem: c for c in clips}
    unknown = [n for n in test_names if n not in stems]
    if unknown:
        raise InputError(f"deblur.test_clips names {', '.join(unknown)}, not clips of motion.source "
                         f"({', '.join(stems)}); name some of those")
    train = [c for c in clips if c.stem not in test_names]
    if not train:
        raise InputError("deblur.test_clips names every clip of motion.source; leave at least one for training")
    return train, [stems[n] for n in test_names]


def check_length(name: str, frames: np.ndarray, need: int) -> None:
    if len(frames) < need:
        raise InputError(f"clip {name} has {len(frames)} frames; study deblur needs at least {need} "
                         f"(windows of {WINDOW} sharp frames): remove it from motion.source or name a longer clip")


PSF_SIZE = 25  # px: the oracle kernels' support (the default clips move under 1 px a frame)


def oracle_psf(window: np.ndarray, n: int, size: int = PSF_SIZE) -> np.ndarray:
    """The blur kernel of the window's global motion, measured on its sharp frames (an oracle no real capture
    has): each of the n middle frames is the middle one shifted by s_t (phase correlation), so their mean is the
    middle frame convolved with the mean of deltas at s_t, splatted bilinearly into a size x size kernel."""
    mid = window.shape[0] // 2
    ref = np.asarray(window[mid], np.float64)
    psf = np.zeros((size, size))
    c = size // 2
    for t in range(mid - n // 2, mid + n // 2 + 1):
        (dx, dy), _ = cv2.phaseCorrelate(ref, np.asarray(window[t], np.float64))
        x, y = np.clip(c + dx, 0, size - 1.001), np.clip(c + dy, 0, size - 1.001)
        x0, y0 = int(x), int(y)
        fx, fy = x - x0, y - y0
        psf[y0, x0] += (1 - fx) * (1 - fy)
        psf[y0, x0 + 1] += fx * (1 - fy)
        psf[y0 + 1, x0] += (1 - fx) * fy
        psf[y0 + 1, x0 + 1] += fx * fy
    return psf / psf.sum()


def spread_windows(frames: np.ndarray, count: int, crop: int) -> np.ndarray:
    """`count` disjoint windows [count, WINDOW, crop, crop] spread evenly over the clip."""
    starts = np.linspace(0, len(frames) - WINDOW, count).round().astype(int)
    return np.stack([center_crop(frames[s:s + WINDOW], crop) for s in starts])


@stage_main
def main() -> None:
    spec = load_spec()
    cfg, crop, height = spec.deblur, spec.scenes.test_crop, spec.data.height
    train, test = split_clips(list_clips(Path(spec.motion.source)), cfg.test_clips)
    count = cfg.windows_per_clip
    val = []
    for clip in train:
        frames = to_grey_linear(read_clip(clip), height)
        check_length(clip.stem, frames, 3 * WINDOW)
        end = len(frames) - 2 * WINDOW  # training windows end here; the last two windows validate
        save_shard(OUT / "train" / f"{clip.stem}.npz", frames=frames[:end], starts=np.arange(end - WINDOW + 1))
        val += [center_crop(frames[s:s + WINDOW], crop) for s in (end, end + WINDOW)]
    clean, subset = [], []
    for k, clip in enumerate(test, start=1):
        frames = to_grey_linear(read_clip(clip), height)
        check_length(clip.stem, frames, count * WINDOW)
        clean.append(spread_windows(frames, count, crop))
        subset += [k] * count
    clean_frames = np.concatenate(clean).astype(np.float32)
    save_shard(OUT / "val.npz", frames=np.stack(val).astype(np.float32))
    save_shard(OUT / "clean.npz", frames=clean_frames, subset=np.array(subset))
    degradation = Blur(cfg.noise)
    for level in degradation.levels:
        stored = {k: np.float32(v) for k, v in degradation.level(level).items()}
        sets = make_test_sets(degradation, {"test": clean_frames, "val": np.stack(val)}, level, cfg.seed)
        n = int(degradation.level(level)["frames"])
        psfs = {f"psf_{split}": np.stack([oracle_psf(w, n) for w in windows]).astype(np.float32)
                for split, windows in (("test", clean_frames), ("val", val))}
        save_shard(OUT / "blurry" / f"{level}.npz", **stored, **sets, **psfs)
    for stale in (OUT / "train").glob("*.npz"):
        if stale.stem not in {c.stem for c in train}:
            stale.unlink()


if __name__ == "__main__":
    main()
