import numpy as np
import pytest
from skimage.metrics import structural_similarity

from core.metrics import psnr, srgb_scores, ssim, to_display


def test_psnr_hand_computed():
    x = np.zeros((4, 4))
    assert psnr(x, x + 0.1) == pytest.approx(20.0)
    assert psnr(x, x + 0.1, data_range=2.0) == pytest.approx(20 + 20 * np.log10(2))
    assert psnr(x, x) == float("inf")


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shape"):
        ssim(np.zeros((3, 3)), np.zeros((4, 3)))


def test_ssim_is_wang_et_al():
    rng = np.random.default_rng(0)
    a = rng.random((40, 40))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    assert ssim(a, a) == pytest.approx(1.0)
    ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ssim(a, b) == pytest.approx(ref)
    assert ssim(a, b) < 0.99


def test_scores_use_clipped_srgb():
    clean = np.full((16, 16), 0.2)
    pred = clean.copy()
    pred[0, 0] = 5.0  # clipped to 1 after gamma
    diff = 1.0 - to_display(clean)[0, 0]
    expected = 10 * np.log10(1 / (diff**2 / 256))
    assert srgb_scores(pred, clean)[0] == pytest.approx(expected)
