"""Stage `scenes`: long videos -> scene manifest and train/val/test sequences of 2*tau+1 grey linear frames.

Cuts are found by PySceneDetect on the pixels. The split is by video: each test video is one test subset
(#1-#4 in the paper's tables, in the order of `scenes.test_videos`); the test sequences are kept in colour too
(test_colour.npz: linear R, G, B planes, Appendix B). Sequences never cross a cut; test and
validation sequences do not overlap. A video is read once, scene by scene: each scene leaves memory as soon as
its end is found, so that the stage's memory is bounded by the longest scene, not the video
(`python -m tools.benchmark data` measures it); a training video is one shard per scene,
train/<video>/<scene>.npz.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections import deque
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
from core.frames import (center_crop, check_decoded, check_video_file, load_shard, resolve_videos, save_shard,
                         video_name)
from core.inputs import check_split
from core.paths import SCENES, SCENES_TEST_COLOUR
from core.spec import Spec, load_spec

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


def colour_linear_frame(bgr: np.ndarray, height: int) -> np.ndarray:
    """One decoded 8-bit BGR frame -> linear R, G, B planes float32 [3, height, W*height/H], resized by the same
    area averaging as grey_linear_frame (so their luma-weighted sum is its grey frame, to float rounding)."""
    h, w = bgr.shape[:2]
    rgb = UINT8_TO_LINEAR[bgr[..., ::-1]]
    width = max(1, round(w * height / h))
    if (h, w) != (height, width):
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))


def convert_frame(bgr: np.ndarray, height: int, colour: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The stage's grey frame of a decoded frame, and its colour planes where the video's colour is kept."""
    return grey_linear_frame(bgr, height), colour_linear_frame(bgr, height) if colour else None


class ConvertingStream(VideoStreamCv2):
    """PySceneDetect's own OpenCV decoder, handing every frame it decodes to a worker thread that converts it to
    the stage's grey linear frame (and, with `colour`, its linear colour planes): one decode serves both the cut
    detector and the stored frames (decoding twice cost more than everything else here), the conversion overlaps
    decoding, and no full-size frame is kept. Converted frames wait in `converted` until a scene takes them."""

    def __init__(self, path: Path, height: int, pool: ThreadPoolExecutor, colour: bool = False):
        super().__init__(str(path))
        self.height, self.pool, self.colour = height, pool, colour
        self.converted: deque[Future] = deque()
        self.count = 0  # frames decoded so far

    def read(self, decode: bool = True):
        frame = super().read(decode)
        if decode and frame is not False:
            self.converted.append(self.pool.submit(convert_frame, frame, self.height, self.colour))
            self.count += 1
        return frame

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The next n converted frames, grey [n, H, W] and colour [n, 3, H, W] (None without colour), let go of
        here."""
        done = [self.converted.popleft().result() for _ in range(n)]
        grey = np.stack([g for g, _ in done])
        return grey, np.stack([c for _, c in done]) if self.colour else None


class CutDetector(ContentDetector):
    """PySceneDetect's content detector, telling `on_cut` of every cut as it finds it."""

    def __init__(self, on_cut, **kwargs):
        super().__init__(**kwargs)
        self.on_cut = on_cut

    def process_frame(self, timecode, frame_img):
        cuts = super().process_frame(timecode, frame_img)
        for cut in cuts:
            self.on_cut(cut.frame_num)
        return cuts


def stream_scenes(path: Path, threshold: float, min_scene_frames: int, height: int, min_frames: int,
                  emit, colour: bool = False) -> tuple[float, list[tuple[int, int]]]:
    """Decode a video once and cut it into scenes with PySceneDetect's content detector; each scene's grey linear
    frames [n, height, W*height/H] (float32) go to emit(k, start, frames, colour) as soon as its end is known
    (colour: its linear RGB planes [n, 3, height, W*height/H] when `colour`, else None), so that
    the stage holds one scene (and the decoder's lookahead), never the video. Returns the fps and the scenes as
    [start, end) (no cut: one scene). A missing, unreadable, truncated or too short video is refused."""
    path = Path(path)
    check_video_file(path)
    scenes: list[tuple[int, int]] = []
    with ThreadPoolExecutor(1) as pool:
        try:
            stream = ConvertingStream(path, height, pool, colour)
        except Exception:  # noqa: BLE001 - PySceneDetect raises its own errors for files OpenCV cannot open
            raise InputError(f"video {path} cannot be opened as a video; convert it to mp4 or avi") from None

        def end_scene(cut: int) -> None:
            start = scenes[-1][1] if scenes else 0
            if cut > start:  # (a cut found again after the last frame is no scene)
                emit(len(scenes), start, *stream.take(cut - start))
                scenes.append((start, cut))

        manager = SceneManager()
        manager.add_detector(CutDetector(end_scene, threshold=threshold, min_scene_len=min_scene_frames))
        manager.detect_scenes(video=stream)
        reported = stream.duration.frame_num if stream.duration is not None else 0
        check_decoded(path, stream.count, reported, min_frames)
        for first, _ in manager.get_scene_list()[1:]:  # any cut the detector gives only once the video has ended
            end_scene(first.frame_num)
        end_scene(stream.count)
    return float(stream.frame_rate), scenes


def read_and_detect(path: Path, threshold: float, min_scene_frames: int, height: int,
                    min_frames: int = 1) -> tuple[np.ndarray, float, list[tuple[int, int]]]:
    """The whole video at once (tests, the benchmark): grey linear frames, fps and scenes of stream_scenes."""
    parts: list[np.ndarray] = []
    fps, scenes = stream_scenes(path, threshold, min_scene_frames, height, min_frames,
                                lambda k, start, frames, colour: parts.append(frames))
    return np.concatenate(parts), fps, scenes


def detect_scenes(path: Path, threshold: float, min_scene_frames: int) -> list[tuple[int, int]]:
    return read_and_detect(path, threshold, min_scene_frames, 1)[2]


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


def train_writer(folder: Path, length: int, stride: int):
    """emit() for a training video: each scene holding a sequence as train/<video>/<scene>.npz, its frames and
    the first frame of a sequence every `stride` frames (core/training_data.py reads them in name order)."""
    def emit(k: int, start: int, frames: np.ndarray, colour: None) -> None:
        firsts = np.arange(0, len(frames) - length + 1, stride, dtype=np.int64)
        if len(firsts):
            save_shard(folder / f"{k:05d}.npz", frames=frames, starts=firsts)
    return emit


class HeldOut:
    """A test or validation video's candidate sequences, the non-overlapping windows of each scene: their
    centre crops (grey, and colour where the video's colour is kept) wait on disk until the video has ended, when
    the picks are spread over all of them."""

    def __init__(self, folder: Path, length: int, crop: int):
        self.folder, self.length, self.crop = folder, length, crop
        self.candidates: list[tuple[int, int, int]] = []  # (scene, first frame in the video, in the scene)

    def emit(self, k: int, start: int, frames: np.ndarray, colour: np.ndarray | None) -> None:
        firsts = range(0, len(frames) - self.length + 1, self.length)
        if len(firsts):
            crops = {"frames": center_crop(frames, self.crop)}
            if colour is not None:
                crops["colour"] = center_crop(colour, self.crop)
            save_shard(self.folder / f"{k:05d}.npz", **crops)
            self.candidates += [(k, start + r, r) for r in firsts]

    def picks(self, name: str, count: int) -> list[tuple]:
        """(video, scene, first frame, crops [2*tau+1, crop, crop], colour crops [2*tau+1, 3, crop, crop] or None)
        of at most `count` spread candidates."""
        picked = []
        for k, first, r in spread(self.candidates, count):
            shard = load_shard(self.folder / f"{k:05d}.npz")
            colour = shard["colour"][r:r + self.length] if "colour" in shard else None
            picked.append((name, k, first, shard["frames"][r:r + self.length], colour))
        return picked


def write_scenes(spec: Spec, paths: list[Path], names: list[str], out: Path) -> None:
    """Every video's scenes into `out`: training shards as each scene ends, then the test and validation
    sequences and the manifest."""
    cfg, length = spec.scenes, spec.data.length
    manifest, held_out = [], {"test": [], "val": []}
    for path, name in zip(tqdm(paths, desc="scenes"), names):
        split = assign_split(name, cfg.test_videos, cfg.val_videos)
        held = None if split == "train" else HeldOut(out / "held" / name, length, cfg.test_crop)
        emit = held.emit if held else train_writer(out / "train" / name, length, cfg.train_stride)
        # The test videos keep their colour too (Appendix B's colour test set), from the same decode.
        fps, scenes = stream_scenes(path, cfg.detector_threshold, cfg.min_scene_frames, spec.data.height, length,
                                    emit, colour=split == "test")
        manifest += [dict(video=name, scene=k, start_frame=a, end_frame=b, fps=round(fps, 3), split=split)
                     for k, (a, b) in enumerate(scenes)]
        if held:
            held_out[split] += held.picks(name, cfg.max_test_sequences)
    shutil.rmtree(out / "held", ignore_errors=True)
    for split in ("test", "val"):
        if not held_out[split]:
            raise InputError(f"the {split} videos yield no {split} scene of 2*tau+1 frames; name longer videos in "
                             f"scenes.{split}_videos")
        if len({s[3].shape for s in held_out[split]}) > 1:
            raise InputError(f"{split} videos are smaller than scenes.test_crop; lower it below their frame size")
    for split, videos in (("test", cfg.test_videos), ("val", cfg.val_videos)):
        seqs = held_out[split]
        save_shard(out / f"{split}.npz", frames=np.stack([s[3] for s in seqs]),
                   subset=np.array([videos.index(s[0]) + 1 for s in seqs]),
                   video=np.array([s[0] for s in seqs]), scene=np.array([s[1] for s in seqs]),
                   start=np.array([s[2] for s in seqs]))
    tests = held_out["test"]
    save_shard(out / SCENES_TEST_COLOUR.name, frames=np.stack([s[4] for s in tests]),
               subset=np.array([cfg.test_videos.index(s[0]) + 1 for s in tests]))
    write_manifest(manifest, out / "manifest.csv")


@stage_main
def main() -> None:
    spec = load_spec()
    paths = resolve_videos(spec.scenes.videos)
    names = [video_name(p) for p in paths]
    check_split(names, spec.scenes.test_videos, spec.scenes.val_videos)
    # Shards are written as scenes end, into a folder beside data/scenes that replaces it only once every video
    # has been read: a bad video leaves the earlier output intact.
    OUT.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".scenes-partial-", dir=OUT.parent))
    try:
        write_scenes(spec, paths, names, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(OUT, ignore_errors=True)
    staging.rename(OUT)


if __name__ == "__main__":
    main()
