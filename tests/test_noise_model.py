import numpy as np
import pytest
import torch

from core.colour import linear_to_srgb, srgb_to_linear
from degradations.raw_noise import (LEVELS, TRAIN_SIGMA_R, TRAIN_SIGMA_S, add_noise, level_names, noise_map,
                                  sample_training_levels)


@pytest.mark.parametrize("level", ["low", "high"])
def test_variance_per_intensity_matches_the_model(level):
    """Flat fields on a ramp: the measured variance fits sigma_s * q + sigma_r^2 (slope and intercept)."""
    sigma_s, sigma_r = LEVELS[level]
    q = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)[:, None, None].expand(19, 300, 300).contiguous()
    y = add_noise(q, sigma_s, sigma_r, generator=torch.Generator().manual_seed(1))
    var = y.var(dim=(1, 2)).numpy()
    slope, intercept = np.polyfit(q[:, 0, 0].numpy(), var, 1)
    assert slope == pytest.approx(sigma_s, rel=0.03)
    assert intercept == pytest.approx(sigma_r**2, rel=0.1)
    assert np.allclose(y.mean(dim=(1, 2)).numpy(), q[:, 0, 0].numpy(), atol=1.5e-3)  # zero-mean noise (4 standard errors)


def test_srgb_round_trip_and_known_values():
    s = np.linspace(0, 1, 1001)
    assert np.allclose(linear_to_srgb(srgb_to_linear(s)), s, atol=1e-12)
    assert srgb_to_linear(np.array(0.5)) == pytest.approx(0.214041, abs=1e-6)
    t = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.allclose(srgb_to_linear(linear_to_srgb(t)), t, atol=1e-12)


def test_level_names():
    assert level_names("both") == ["low", "high"]
    assert level_names("high") == ["high"]
    with pytest.raises(ValueError, match="valid values are low, high, both"):
        level_names("medium")


def test_training_draws_are_log_uniform_in_their_ranges():
    s, r = sample_training_levels(20000, generator=torch.Generator().manual_seed(0))
    assert TRAIN_SIGMA_S[0] <= s.min() and s.max() <= TRAIN_SIGMA_S[1]
    assert TRAIN_SIGMA_R[0] <= r.min() and r.max() <= TRAIN_SIGMA_R[1]
    # log-uniform: the mean of the log is the midpoint of the log range
    assert s.log().mean().item() == pytest.approx(np.log(TRAIN_SIGMA_S).mean(), abs=0.05)
    assert r.log().mean().item() == pytest.approx(np.log(TRAIN_SIGMA_R).mean(), abs=0.05)


def test_noise_map_formula():
    y = torch.tensor([[-0.1, 0.0, 0.25, 1.0]])
    expected = torch.sqrt(torch.tensor([1e-4, 1e-4, 1e-4 + 2.5e-3 * 0.25, 1e-4 + 2.5e-3]))
    assert torch.allclose(noise_map(y, 2.5e-3, 1e-2), expected)
