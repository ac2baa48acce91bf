"""Stage `motion`: 240 fps clips -> frame-rate subsets 120/80/60/48/40/30/24 fps (paper Sec. 5.3, Figure 8).

A sequence at f fps is a reference frame and its 2*tau neighbours at stride 240/f, so every subset shares the
same reference frames and only the motion between frames grows as f falls. The source is the rendered clips by
default, or a folder of real Adobe240 clips (video files, or one folder of frame images per clip).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.clips import SOURCE_FPS, list_clips, motion_reach, read_clip
from core.config import InputError, stage_main
from core.frames import center_crop, save_shard, to_grey_linear
from core.paths import MOTION_SUBSETS
from core.spec import load_spec

def strides(fps_list: list[int]) -> dict[int, int]:
    out = {}
    for f in fps_list:
        if SOURCE_FPS % f:
            raise InputError(f"motion.fps has {f}, which does not divide {SOURCE_FPS}; use 120/80/60/48/40/30/24")
        out[f] = SOURCE_FPS // f
    return out


def reference_frames(n_frames: int, reach: int, count: int) -> list[int]:
    """`count` reference indices, evenly spread, each with `reach` frames on both sides inside the clip."""
    lo, hi = reach, n_frames - 1 - reach
    if hi < lo:
        return []
    return sorted(set(np.linspace(lo, hi, count + 2)[1:-1].round().astype(int).tolist())) if count > 0 else []


def subset_sequences(frames: np.ndarray, refs: list[int], stride: int, tau: int) -> np.ndarray:
    """[len(refs), 2*tau+1, H, W]: each reference frame with its neighbours at `stride`."""
    offsets = stride * np.arange(-tau, tau + 1)
    return np.stack([frames[r + offsets] for r in refs])


@stage_main
def main() -> None:
    spec = load_spec()
    cfg, tau = spec.motion, spec.data.tau
    stride_of = strides(cfg.fps)
    reach = motion_reach(tau, cfg.fps)
    subsets: dict[int, list[np.ndarray]] = {f: [] for f in stride_of}
    names = []
    for clip in tqdm(list_clips(Path(cfg.source)), desc="motion"):
        frames = center_crop(to_grey_linear(read_clip(clip), spec.data.height), cfg.crop)
        refs = reference_frames(len(frames), reach, cfg.references_per_clip)
        if not refs:
            raise InputError(f"clip {clip} has {len(frames)} frames; the {min(stride_of)} fps subset needs "
                             f"{2 * reach + 1} (2*tau*{max(stride_of.values())}+1); remove it or lower data.tau")
        for f, stride in stride_of.items():
            subsets[f].append(subset_sequences(frames, refs, stride, tau))
        names += [f"{clip.stem}@{r}" for r in refs]
    if len({s.shape[-2:] for seqs in subsets.values() for s in seqs}) > 1:
        raise InputError("the clips give different frame sizes after motion.crop; lower motion.crop")
    save_shard(MOTION_SUBSETS, reference=np.array(names),
               **{f"fps_{f}": np.concatenate(seqs) for f, seqs in subsets.items()})


if __name__ == "__main__":
    main()
