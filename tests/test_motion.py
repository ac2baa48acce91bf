import numpy as np

from pipeline.motion import reference_frames, subset_sequences, strides
from pipeline.render import load_photograph, render_shot


def test_strides_are_240_over_fps():
    assert strides([120, 80, 60, 48, 40, 30, 24]) == {120: 2, 80: 3, 60: 4, 48: 5, 40: 6, 30: 8, 24: 10}


def test_every_subset_shares_the_reference_frames_at_its_stride():
    frames = np.arange(101, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)  # frame k holds k
    refs = reference_frames(101, 2 * 10, 3)
    assert refs and all(20 <= r <= 80 for r in refs)
    for fps, stride in strides([120, 80, 60, 48, 40, 30, 24]).items():
        seqs = subset_sequences(frames, refs, stride, tau=2)
        assert seqs[:, 2, 0, 0].tolist() == refs  # the same reference frames in every subset
        assert np.all(np.diff(seqs[:, :, 0, 0], axis=1) == stride)


def test_motion_grows_as_the_frame_rate_falls():
    rng = np.random.default_rng(0)
    clip = render_shot(load_photograph("astronaut"), load_photograph("coffee"), 61, 64, 96, 0.6, rng)
    grey = clip.astype(np.float64).mean(-1)
    refs = reference_frames(len(grey), 20, 2)
    change = []
    for fps, stride in strides([120, 60, 40, 24]).items():
        seqs = subset_sequences(grey, refs, stride, tau=2)
        change.append(np.abs(seqs[:, 3] - seqs[:, 2]).mean())
    assert all(a < b for a, b in zip(change, change[1:]))


def test_figure8_is_measured_at_low_noise_else_at_the_first_level():
    from pathlib import Path

    from core.results import figure8_level

    assert figure8_level([Path("n/high.npz"), Path("n/low.npz")]) == Path("n/low.npz")
    assert figure8_level([Path("n/high.npz"), Path("n/medium.npz")]) == Path("n/high.npz")
