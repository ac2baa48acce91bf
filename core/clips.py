"""240 fps clips on disk: the rendered clips, or the user's real Adobe240 clips as video files or one folder of
frame images per clip. Read by the motion study (stage motion) and the deblurring study (stage blur)."""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from core.config import InputError
from core.frames import VIDEO_SUFFIXES, read_video

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SOURCE_FPS = 240


def motion_reach(tau: int, fps: list[int]) -> int:
    """How far a reference frame's neighbours lie in a 240 fps clip at the lowest rate of `fps`: tau x stride."""
    return tau * (SOURCE_FPS // min(fps))


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
