"""The videos and clips params name, checked from their headers and first frames before any stage reads them
(stage `inputs`): a bad input stops the run there, before DVC removes the outputs of scenes, motion or blur.

What is checked: every video of `scenes.videos` exists and opens, no two share a name, the test and validation
videos are among them, and every clip of `motion.source` is a readable video or a folder of frames numbered in
time order; no input has more than 8 bits per sample (OpenCV would decode it as 8 bits, silently), none is lower
than `data.height` (its frames would be upscaled) and none is shorter than a sequence.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from core.clips import IMAGE_SUFFIXES, check_frame_order, list_clips, motion_reach
from core.config import InputError
from core.frames import check_video_file, resolve_videos, video_name
from core.spec import Spec


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    frames: int  # as the header says (0: unknown)
    bits: int    # per sample


def bits_per_sample(tag: int) -> int:
    """Bits per sample of a decoder's pixel format, from the FourCC OpenCV reports (CAP_PROP_CODEC_PIXEL_FORMAT):
    FFmpeg tags its planar high-depth formats ('Y1'/'Y3'/'G3'/'G4', x, depth) and packed RGB as ('RGB'/'BGR',
    bits per pixel); every other tag (I420, Y800, ...) is an 8-bit format."""
    code = int(tag).to_bytes(4, "little", signed=int(tag) < 0)
    if code[:2] in (b"Y1", b"Y3", b"G3", b"G4") and 8 < code[3] <= 16:
        return code[3]
    if code[:3] in (b"RGB", b"BGR") and code[3] in (30, 36, 48):
        return code[3] // 3
    if code[:3] in (b"RBA", b"BRA") and code[3] == 64:
        return 16
    return 8


def probe_video(path: Path) -> Probe:
    """Size, header frame count and bits per sample of a video, from its header and first frame."""
    check_video_file(path)
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            raise InputError(f"video {path} cannot be opened as a video or has no decodable frame; "
                             "convert it to mp4 or avi")
        return Probe(frame.shape[1], frame.shape[0], int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
                     bits_per_sample(cap.get(cv2.CAP_PROP_CODEC_PIXEL_FORMAT)))
    finally:
        cap.release()


def probe_frames(clip: Path) -> Probe:
    """Size and bits per sample of a folder of frame images (its first frame), and its frame count."""
    files = sorted(f for f in clip.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    check_frame_order(clip, [f.stem for f in files])
    im = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise InputError(f"frame {files[0]} of clip {clip} cannot be read as an image; remove or replace it")
    return Probe(im.shape[1], im.shape[0], len(files), 8 * im.dtype.itemsize)


def check_probe(what: str, probe: Probe, height: int, min_frames: int, needs: str = "a sequence") -> None:
    if probe.bits > 8:
        raise InputError(f"{what} has {probe.bits} bits per sample; the suite reads 8-bit video and would lose "
                         "the rest: convert it to 8 bits (e.g. ffmpeg -pix_fmt yuv420p) or remove it")
    if probe.height < height:
        raise InputError(f"{what} is {probe.height} px high, under data.height={height}; its frames would be "
                         f"upscaled: lower data.height to {probe.height} or remove it")
    if 0 < probe.frames < min_frames:
        raise InputError(f"{what} has {probe.frames} frames; {needs} needs {min_frames}: remove it or lower "
                         "data.tau")


def check_split(names: list[str], test_videos: list[str], val_videos: list[str]) -> None:
    """Each video named once; the test and validation videos among them; one left for training."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"scenes.videos gives {', '.join(twice)} more than once (a video is named by its file "
                         "name without extension); list each video once, or rename one of two files")
    for key, wanted in (("scenes.test_videos", test_videos), ("scenes.val_videos", val_videos)):
        missing = [v for v in wanted if v not in names]
        if missing:
            raise InputError(f"{key} names {', '.join(missing)}, which is not among the videos "
                             f"({', '.join(names)}); fix {key} in params.yaml")
    if not val_videos:
        raise InputError("scenes.val_videos is empty; the baselines are tuned on it, name one video")
    if not [n for n in names if n not in test_videos and n not in val_videos]:
        raise InputError("no video is left for training; take one out of scenes.test_videos or scenes.val_videos")


def check_videos(spec: Spec) -> list[Path]:
    """The videos of `scenes.videos`, each checked; returns their paths."""
    paths = resolve_videos(spec.scenes.videos)
    check_split([video_name(p) for p in paths], spec.scenes.test_videos, spec.scenes.val_videos)
    for path in paths:
        check_probe(f"video {path}", probe_video(path), spec.data.height, spec.data.length)
    return paths


def check_clips(spec: Spec) -> list[Path]:
    """The clips of `motion.source`, each checked from its header or first frame; returns their paths."""
    clips = list_clips(Path(spec.motion.source))
    reach = motion_reach(spec.data.tau, spec.motion.fps)  # Figure 8's lowest rate spans the most frames
    for clip in clips:
        probe = probe_video(clip) if clip.is_file() else probe_frames(clip)
        check_probe(f"clip {clip}", probe, spec.data.height, 2 * reach + 1,
                    f"the {min(spec.motion.fps)} fps subset (2*data.tau*{reach // spec.data.tau}+1)")
    return clips
