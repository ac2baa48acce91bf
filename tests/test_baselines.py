import numpy as np
import pytest
import torch

from baselines import BASELINES, run_baseline
from baselines.vst import gat_forward, gat_inverse
from degradations.raw_noise import LEVELS, add_noise


def noisy_ramp(level: str, frames: int = 5, seed: int = 0):
    """A smooth ramp (static over frames) under the test noise."""
    sigma_s, sigma_r = LEVELS[level]
    ramp = np.tile(np.linspace(0.05, 0.9, 48), (40, 1))
    clean = np.repeat(ramp[None], frames, 0)
    noisy = add_noise(torch.from_numpy(clean), sigma_s, sigma_r, generator=torch.Generator().manual_seed(seed))
    return clean[frames // 2], noisy.numpy(), sigma_s, sigma_r


DEBLURRERS = {"richardson_lucy"}  # deconvolution with a known kernel: tests/test_deblur.py


@pytest.mark.parametrize("name", sorted(set(BASELINES) - DEBLURRERS))
@pytest.mark.parametrize("level", ["low", "high"])
def test_each_baseline_lowers_the_error_of_a_noisy_ramp(name, level):
    clean, noisy, ss, sr = noisy_ramp(level)
    before = np.mean((noisy[2] - clean) ** 2)
    out = run_baseline(name, noisy, {"sigma_s": ss, "sigma_r": sr})
    assert out.shape == clean.shape
    after = np.mean((out - clean) ** 2)
    if name == "reference_frame":  # the no-denoising row of the tables
        assert after == pytest.approx(before)
    else:
        assert after < 0.5 * before


@pytest.mark.parametrize("level", ["low", "high"])
def test_gat_stabilises_the_variance_and_inverts_without_bias(level):
    sigma_s, sigma_r = LEVELS[level]
    g = torch.Generator().manual_seed(0)
    for q in (0.01, 0.1, 0.5, 0.9):
        y = add_noise(torch.full((200_000,), q, dtype=torch.float64), sigma_s, sigma_r, generator=g).numpy()
        d = gat_forward(y, sigma_s, sigma_r)
        assert d.std() == pytest.approx(1.0, abs=0.05)
        # the exact unbiased inverse maps the mean of the transformed values back to q
        assert gat_inverse(np.array(d.mean()), sigma_s, sigma_r) == pytest.approx(q, rel=0.01, abs=2e-4)


def test_unknown_baseline():
    with pytest.raises(KeyError, match="bm3d"):
        run_baseline("wiener", np.zeros((5, 4, 4)), {"sigma_s": 1e-3, "sigma_r": 1e-2})


def test_a_failing_sequence_is_named():
    from pipeline.baselines import _denoise_one

    result, error = _denoise_one(("bm3d", np.zeros((5, 4)), {"sigma_s": 2.5e-3, "sigma_r": 1e-2}, 1.0,
                                  "bikes scene 2 frame 80", False))
    assert result is None and error.startswith("bm3d failed on bikes scene 2 frame 80: ")
