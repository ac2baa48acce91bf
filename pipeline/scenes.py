"""Stage `scenes`: long videos -> scene manifest and train/val/test sequences of 2*tau+1 grey linear frames.

Cuts are found by PySceneDetect on the pixels. The split is by video: each test video is one test subset
(#1-#4 in the paper's tables, in the order of `scenes.test_videos`). Sequences never cross a cut; test and
validation sequences do not overlap.
"""
from __future__ import annotations

import csv
import io
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numba
import numpy as np
from scenedetect import ContentDetector, SceneManager
from scenedetect.backends.opencv import VideoStreamCv2
from tqdm import tqdm

from core.colour import LUMA, UINT8_TO_LINEAR
from core.config import InputError, atomic_write, stage_main
from core.frames import center_crop, check_decoded, check_video_file, resolve_videos, save_shard, video_name
from core.inputs import check_split
from core.paths import SCENES
from core.spec import load_spec

OUT = SCENES
MANIFEST_COLUMNS = ["video", "scene", "start_frame", "end_frame", "fps", "split"]


# The luma weight times the linear value of each 8-bit code, one table per B, G, R channel: the very float32
# products core.colour.uint8_to_grey_linear forms per pixel, so the sums below are bit-identical to it.
BGR_TO_GREY = np.stack([np.float32(w) * UINT8_TO_LINEAR for w in LUMA[::-1]]).astype(np.float32)


@numba.njit(cache=True, nogil=True)
def _bgr_to_grey_linear(bgr, table, out):
    """One pass over the frame: three lookups and two sums a pixel, (R + G) + B in float32 as the per-pixel
    conversion orders them. A cv2.LUT to three float channels and two array sums wrote and read the frame
    three times over and cost more than decoding it; nogil lets it run beside the decoder's thread."""
    for y in range(bgr.shape[0]):
        for x in range(bgr.shape[1]):
            out[y, x] = table[2, bgr[y, x, 2]] + table[1, bgr[y, x, 1]] + table[0, bgr[y, x, 0]]


def grey_linear_frame(bgr: np.ndarray, height: int) -> np.ndarray:
    """One decoded 8-bit BGR frame -> grey linear float32 [height, W*height/H], equal to
    core.frames.to_grey_linear on its RGB (same products, same order of the sums, same area resize)."""
    h, w = bgr.shape[:2]
    grey = np.empty((h, w), np.float32)
    _bgr_to_grey_linear(bgr, BGR_TO_GREY, grey)
    width = max(1, round(w * height / h))
    return grey if (h, w) == (height, width) else cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA)


class ConvertingStream(VideoStreamCv2):
    """PySceneDetect's own OpenCV decoder, handing every frame it decodes to a worker thread that converts it to
    the stage's grey linear frame: one decode serves both the cut detector and the stored frames (decoding twice
    cost more than everything else here), the conversion overlaps decoding, and no full-size frame is kept."""

    def __init__(self, path: Path, height: int, pool: ThreadPoolExecutor):
        super().__init__(str(path))
        self.height, self.pool = height, pool
        self.converted: list[Future] = []

    def read(self, decode: bool = True):
        frame = super().read(decode)
        if decode and frame is not False:
            self.converted.append(self.pool.submit(grey_linear_frame, frame, self.height))
        return frame


def read_and_detect(path: Path, threshold: float, min_scene_frames: int, height: int,
                    min_frames: int = 1) -> tuple[np.ndarray, float, list[tuple[int, int]]]:
    """Grey linear frames [N, height, W*height/H] (float32), fps, and the scenes as [start, end) frame ranges from
    PySceneDetect's content detector (no cut: one scene). A missing, unreadable, truncated or too short video
    is refused."""
    path = Path(path)
    check_video_file(path)
    with ThreadPoolExecutor(1) as pool:
        try:
            stream = ConvertingStream(path, height, pool)
        except Exception:  # noqa: BLE001 - PySceneDetect raises its own errors for files OpenCV cannot open
            raise InputError(f"video {path} cannot be opened as a video; convert it to mp4 or avi") from None
        manager = SceneManager()
        manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_scene_frames))
        manager.detect_scenes(video=stream)
        reported = stream.duration.frame_num if stream.duration is not None else 0
        check_decoded(path, len(stream.converted), reported, min_frames)
        frames = np.stack([f.result() for f in stream.converted])
    scenes = [(a.frame_num, b.frame_num) for a, b in manager.get_scene_list()]
    return frames, float(stream.frame_rate), scenes or [(0, len(frames))]


def detect_scenes(path: Path, threshold: float, min_scene_frames: int) -> list[tuple[int, int]]:
    return read_and_detect(path, threshold, min_scene_frames, 1)[2]


def sequence_starts(scenes: list[tuple[int, int]], length: int, stride: int) -> list[tuple[int, int]]:
    """(scene index, first frame) of every window of `length` frames inside one scene, every `stride` frames."""
    return [(k, s) for k, (a, b) in enumerate(scenes) for s in range(a, b - length + 1, stride)]


def spread(items: list, k: int) -> list:
    """At most k items, evenly spread over the list (so every part of a video is represented)."""
    if len(items) <= k:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, k).round().astype(int)]


def assign_split(name: str, test_videos: list[str], val_videos: list[str]) -> str:
    return "test" if name in test_videos else "val" if name in val_videos else "train"


def write_manifest(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


@stage_main
def main() -> None:
    spec = load_spec()
    cfg, length, height = spec.scenes, spec.data.length, spec.data.height
    paths = resolve_videos(cfg.videos)
    names = [video_name(p) for p in paths]
    check_split(names, cfg.test_videos, cfg.val_videos)

    # Everything is read and checked before anything is written: a bad video leaves earlier outputs intact.
    manifest, held_out, train = [], {"test": [], "val": []}, {}
    for path, name in zip(tqdm(paths, desc="scenes"), names):
        frames, fps, scenes = read_and_detect(path, cfg.detector_threshold, cfg.min_scene_frames, height,
                                              length)
        split = assign_split(name, cfg.test_videos, cfg.val_videos)
        manifest += [dict(video=name, scene=k, start_frame=a, end_frame=b, fps=round(fps, 3), split=split)
                     for k, (a, b) in enumerate(scenes)]
        if split == "train":
            starts = sequence_starts(scenes, length, cfg.train_stride)
            train[name] = dict(frames=frames, starts=np.array([s for _, s in starts], np.int64).reshape(-1))
            continue
        picks = spread(sequence_starts(scenes, length, length), cfg.max_test_sequences)
        for k, s in picks:
            held_out[split].append((name, k, s, center_crop(frames[s:s + length], cfg.test_crop)))

    for split in ("test", "val"):
        if not held_out[split]:
            raise InputError(f"the {split} videos yield no {split} scene of 2*tau+1 frames; name longer videos in "
                             f"scenes.{split}_videos")
        if len({s[3].shape for s in held_out[split]}) > 1:
            raise InputError(f"{split} videos are smaller than scenes.test_crop; lower it below their frame size")
    for name, shard in train.items():
        save_shard(OUT / "train" / f"{name}.npz", **shard)
    for split, videos in (("test", cfg.test_videos), ("val", cfg.val_videos)):
        seqs = held_out[split]
        save_shard(OUT / f"{split}.npz", frames=np.stack([s[3] for s in seqs]),
                   subset=np.array([videos.index(s[0]) + 1 for s in seqs]),
                   video=np.array([s[0] for s in seqs]), scene=np.array([s[1] for s in seqs]),
                   start=np.array([s[2] for s in seqs]))
    write_manifest(manifest, OUT / "manifest.csv")


if __name__ == "__main__":
    main()
