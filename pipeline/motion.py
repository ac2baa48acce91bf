"""Stage `motion`: 240 fps clips -> frame-rate subsets 120/80/60/48/40/30/24 fps (paper Sec. 5.3, Figure 8).

A sequence at f fps is a reference frame and its 2*tau neighbours at stride 240/f, so every subset shares the
same reference frames and only the motion between frames grows as f falls. The source is the rendered clips by
default, or a folder of real Adobe240 clips (video files, or one folder of frame images per clip).
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from core.config import InputError, load_params, stage_main
from core.frames import VIDEO_SUFFIXES, center_crop, read_video, save_shard, to_grey_linear

SOURCE_FPS = 240
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def list_clips(folder: Path) -> list[Path]:
    """Clips in a folder: video files, or sub-folders of frame images (the Adobe240 frame dumps)."""
    if not folder.is_dir():
        raise InputError(f"motion.source {folder} is not a folder; point it at a folder of 240 fps clips")
    clips = sorted(p for p in folder.iterdir()
                   if (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
                   or (p.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())))
    if not clips:
        raise InputError(f"motion.source {folder} holds no video file and no folder of frame images; "
                         "put the Adobe240 clips (e.g. 720p_240fps_1.mov or frame folders) there")
    return clips


def read_clip(path: Path) -> np.ndarray:
    """uint8 RGB frames [N, H, W, 3] of a video file or a folder of images (sorted by name)."""
    if path.is_file():
        return read_video(path)[0]
    files = sorted(f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    check_frame_order(path, [f.stem for f in files])
    frames = []
    for f in files:
        im = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if im is None:
            raise InputError(f"frame {f} of clip {path} cannot be read as an image; remove or replace it")
        if im.dtype != np.uint8:
            raise InputError(f"frame {f} of clip {path} has {im.dtype} samples; the suite reads 8-bit sRGB frames: "
                             "convert the clip to 8 bits")
        im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR) if im.ndim == 2 else im[..., :3]
        if frames and im.shape != frames[0].shape:
            raise InputError(f"frame {f} is {im.shape[1]}x{im.shape[0]}, unlike the rest of clip {path}; "
                             "every frame of a clip must have one size")
        frames.append(cv2.cvtColor(im, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def check_frame_order(clip: Path, stems: list[str]) -> None:
    """Frames are ordered by name: numbered names of unequal length (9.png, 10.png) would sort out of order."""
    numbers = [re.findall(r"\d+", s) for s in stems]
    if any(not n for n in numbers):
        bad = stems[[not n for n in numbers].index(True)]
        raise InputError(f"frame {bad} of clip {clip} has no frame number in its name; name the frames "
                         "00000.png, 00001.png, ... in time order")
    if len({len(n[-1]) for n in numbers}) > 1:
        raise InputError(f"the frames of clip {clip} are numbered with unequal widths (e.g. {stems[0]}, "
                         f"{stems[-1]}), so their order by name is not their order in time; zero-pad the numbers")


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
    params = load_params()
    cfg, tau = params["motion"], params["data"]["tau"]
    stride_of = strides(cfg["fps"])
    reach = tau * max(stride_of.values())
    subsets: dict[int, list[np.ndarray]] = {f: [] for f in stride_of}
    names = []
    for clip in tqdm(list_clips(Path(cfg["source"])), desc="motion"):
        frames = center_crop(to_grey_linear(read_clip(clip), params["data"]["height"]), cfg["crop"])
        refs = reference_frames(len(frames), reach, cfg["references_per_clip"])
        if not refs:
            raise InputError(f"clip {clip} has {len(frames)} frames; the {min(stride_of)} fps subset needs "
                             f"{2 * reach + 1} (2*tau*{max(stride_of.values())}+1); remove it or lower data.tau")
        for f, stride in stride_of.items():
            subsets[f].append(subset_sequences(frames, refs, stride, tau))
        names += [f"{clip.stem}@{r}" for r in refs]
    if len({s.shape[-2:] for seqs in subsets.values() for s in seqs}) > 1:
        raise InputError("the clips give different frame sizes after motion.crop; lower motion.crop")
    save_shard("data/motion/subsets.npz", reference=np.array(names),
               **{f"fps_{f}": np.concatenate(seqs) for f, seqs in subsets.items()})


if __name__ == "__main__":
    main()
