"""Study deblur by value: the blur degradation, its data stage, the IIR argument of SVRNN, the oracle
deconvolution, the receptive field measurement and the findings."""
import numpy as np
import pandas as pd
import pytest
import torch

from core.config import InputError
from degradations.blur import WINDOW, Blur, average_middle
from ops.recurrent_scan import scan
from pipeline.blur import check_length, oracle_psf, split_clips, spread_windows
from studies.deblur import findings


def test_a_blurry_frame_is_the_mean_of_its_n_middle_linear_frames():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(3, WINDOW, 6, 7, generator=g, dtype=torch.float64)
    for level, n in (("n7", 7), ("n13", 13)):
        blurry = Blur().test_set(clean.numpy(), level, seed=0)
        mid = WINDOW // 2
        assert np.allclose(blurry[:, 0], clean[:, mid - n // 2:mid + n // 2 + 1].mean(1).numpy(), atol=1e-12)
    # per-sequence lengths (training draws): each sequence its own n
    out = average_middle(clean, torch.tensor([1, 3, 13]))
    assert torch.allclose(out[0, 0], clean[0, mid]) and torch.allclose(out[1, 0], clean[1, mid - 1:mid + 2].mean(0))


def test_training_pairs_draw_odd_lengths_from_7_to_13_and_target_the_middle_frame():
    clean = torch.rand(64, WINDOW, 4, 4)
    pair = Blur().training_pair(clean, torch.Generator().manual_seed(1))
    assert set(pair["params"]["frames"].flatten().tolist()) == {7.0, 9.0, 11.0, 13.0}
    assert pair["input"].shape == (64, 1, 4, 4) and pair["condition"] is None
    with pytest.raises(ValueError, match="windows of 13"):
        Blur().apply(clean[:, :5], {"frames": 3.0}, None)


def test_train_and_test_clips_do_not_overlap_and_names_are_checked(tmp_path):
    clips = [tmp_path / f"clip_0{i}.avi" for i in range(4)]
    train, test = split_clips(clips, ["clip_02", "clip_03"])
    assert [c.stem for c in train] == ["clip_00", "clip_01"] and [c.stem for c in test] == ["clip_02", "clip_03"]
    assert not {c.stem for c in train} & {c.stem for c in test}
    with pytest.raises(InputError, match="clip_09"):
        split_clips(clips, ["clip_09"])
    with pytest.raises(InputError, match="leave at least one"):
        split_clips(clips, [c.stem for c in clips])


def test_a_clip_shorter_than_the_windows_is_refused_with_its_name():
    with pytest.raises(InputError, match="clip short_one has 20 frames"):
        check_length("short_one", np.zeros((20, 8, 8)), 3 * WINDOW)
    windows = spread_windows(np.arange(60)[:, None, None] * np.ones((60, 10, 10)), 4, 8)
    starts = windows[:, 0, 0, 0]
    assert windows.shape == (4, WINDOW, 8, 8) and np.all(np.diff(starts) >= WINDOW)  # disjoint windows


def test_the_recurrence_inverts_a_causal_blur_exactly():
    """The IIR argument: y_t = (x_t + a x_{t-1}) / (1 + a) is undone by h_t = (1 - p) y_t + p h_{t-1} with p = -a."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 2, 3, 40, generator=g, dtype=torch.float64)
    for a in (0.3, 0.8):
        previous = torch.nn.functional.pad(x, (1, 0))[..., :-1]
        y = (x + a * previous) / (1 + a)
        assert torch.allclose(scan(y, torch.full_like(y, -a), "left"), x, atol=1e-12)
        assert (y - x).abs().max() > 0.1  # the blur was not negligible


def test_the_oracle_kernel_of_a_pure_translation_is_the_blur():
    """Frames translated by (0.7, 0.3) px a frame: the measured kernel reproduces their mean from the middle one."""
    import cv2
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((140, 140)), (0, 0), 1.5)
    frames = np.stack([cv2.warpAffine(base, np.float64([[1, 0, (t - 6) * 0.7], [0, 1, (t - 6) * 0.3]]), (140, 140),
                                      flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT) for t in range(WINDOW)])
    window = frames[:, 20:116, 20:116]
    psf = oracle_psf(window, 13)
    assert psf.sum() == pytest.approx(1.0)
    blurry = window.mean(0)
    inner = (slice(15, -15), slice(15, -15))
    assert np.abs(fftconvolve(window[6], psf, mode="same") - blurry)[inner].mean() < 0.2 * \
        np.abs(window[6] - blurry)[inner].mean()


def test_richardson_lucy_with_the_true_kernel_sharpens():
    from scipy.signal import fftconvolve

    from baselines import run_baseline
    from core.metrics import srgb_scores

    rng = np.random.default_rng(1)
    sharp = np.clip(np.kron(rng.random((12, 12)), np.ones((8, 8))) * 0.8 + 0.1, 0, 1)
    psf = np.zeros((9, 9))
    psf[4, 1:8] = 1 / 7  # a horizontal motion of 7 px
    blurry = fftconvolve(np.pad(sharp, 9, mode="reflect"), psf, mode="same")[9:-9, 9:-9]
    out = run_baseline("richardson_lucy", blurry[None], {"frames": 7.0, "noise": 0.0, "psf": psf})
    assert srgb_scores(out, sharp)[0] > srgb_scores(blurry, sharp)[0] + 3


def test_the_receptive_field_of_a_known_filter():
    """A model whose correction is a 5x5 box of its input sees exactly 2 px around the centre."""
    from engine.infer import receptive_field
    from models.base import Denoiser

    class Box(Denoiser):
        def denoise(self, frames, x):
            return frames + torch.nn.functional.avg_pool2d(frames, 5, 1, 2, count_include_pad=False), {}

    field = receptive_field(Box(1, True), np.random.default_rng(0).random((1, 31, 31)), Blur(), Blur().level("n7"))
    assert field["extent"] == 2 and field["radius_95"] == 2 and field["frame"] == [31, 31]

    class Identity(Denoiser):
        def denoise(self, frames, x):
            return frames * 1.0, {}

    field = receptive_field(Identity(1, True), np.ones((1, 9, 9)), Blur(), Blur().level("n7"))
    assert field["extent"] == 0 and field["radius_95"] == 0


def test_the_findings_follow_the_numbers():
    rows = [{"table": "deblur", "method": m, "blind": 1, "level": lv, "subset": "avg", "psnr": p, "ssim": 0.9}
            for lv in ("n7", "n13") for m, p in (("SVRNN", 30.0), ("U-Net", 29.0))]
    labels = {"svrnn": "SVRNN", "cnn": "U-Net"}
    fields = {"svrnn": {"radius_95": 30, "extent": 48, "frame": [96, 96]},
              "cnn": {"radius_95": 10, "extent": 20, "frame": [96, 96]}}
    verdicts = [f.verdict for f in findings(pd.DataFrame(rows), labels, fields, 0.45)]
    assert verdicts == ["holds", "holds"]
    fields["svrnn"]["radius_95"] = 8
    assert [f.verdict for f in findings(pd.DataFrame(rows), labels, fields, 1.5)] == ["within noise", "does not hold"]


def test_the_receptive_field_is_measured_over_pixels_and_inputs_and_beside_the_untrained_start():
    """A 5x5 box sees 2 px at every one of the 5 pixels of each of 3 inputs (15 fields); the finding needs
    SVRNN's smallest field beyond the CNN's largest, and tells how far training moved each from its start."""
    from engine.infer import FIELD_PIXELS, receptive_field
    from models.base import Denoiser

    class Box(Denoiser):
        def denoise(self, frames, x):
            return frames + torch.nn.functional.avg_pool2d(frames, 5, 1, 2, count_include_pad=False), {}

    field = receptive_field(Box(1, True), np.random.default_rng(0).random((3, 1, 31, 31)), Blur(), Blur().level("n7"))
    assert field["radius_95"] == 2 and field["radius_95_range"] == [2, 2] and field["measured"] == 3 * len(FIELD_PIXELS)
    rows = [{"table": "deblur", "method": m, "blind": 1, "level": "n7", "subset": "avg", "psnr": p, "ssim": 0.9}
            for m, p in (("SVRNN", 30.0), ("U-Net", 29.0))]
    labels = {"svrnn": "SVRNN", "cnn": "U-Net"}
    fields = {"svrnn": {"radius_95": 30, "radius_95_range": [12, 40], "extent": 48, "frame": [96, 96],
                        "untrained": {"radius_95": 25}},
              "cnn": {"radius_95": 4, "radius_95_range": [3, 14], "extent": 20, "frame": [96, 96],
                      "untrained": {"radius_95": 11}}}
    second = findings(pd.DataFrame(rows), labels, fields, 0.45)[1]
    assert second.verdict == "within noise"  # medians 7.5x apart, yet a CNN field (14) beyond SVRNN's least (12)
    assert "untrained, at their seeded starts: 25 and 11 px (training moved them by +5 and -7 px)" in second.evidence
    fields["cnn"]["radius_95_range"] = [3, 6]
    assert findings(pd.DataFrame(rows), labels, fields, 0.45)[1].verdict == "holds"
