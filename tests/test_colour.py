"""Colour (Xu et al. 2019, Appendix B): raw noise drawn per channel, grey methods restoring R, G and B one at a
time, RGB scores, and the colour-artefact measure of finding (8)."""
import numpy as np
import pytest
import torch

import models
from baselines import run_baseline
from core.colour import channels_as_sequences, frames_as_colour
from core.metrics import srgb_scores
from degradations import DEGRADATIONS
from degradations.raw_noise import LEVELS
from engine.infer import run_model


def grey_clip(n=2, size=24, seed=0):
    """Grey test sequences [n, 5, H, W] of smooth random content, and the colour clip whose channels all equal them."""
    g = np.random.default_rng(seed)
    grey = np.clip(0.4 + 0.3 * np.cumsum(g.normal(0, 0.05, (n, 5, size, size)), -1), 0.02, 0.98).astype(np.float32)
    return grey, np.repeat(grey[:, :, None], 3, axis=2)


def test_channels_go_through_as_grey_sequences_and_come_back():
    colour = np.arange(2 * 5 * 3 * 4 * 4, dtype=np.float32).reshape(2, 5, 3, 4, 4)
    grey = channels_as_sequences(colour)
    assert grey.shape == (6, 5, 4, 4) and np.array_equal(grey[4], colour[1, :, 1])  # sequence 1, green
    assert np.array_equal(frames_as_colour(grey[:, 2]), colour[:, 2])


@pytest.mark.parametrize("level", ["low", "high"])
def test_colour_noise_is_drawn_per_channel_with_each_channels_variance(level):
    """Raw noise on colour: each channel's variance is sigma_s * q + sigma_r^2 of its own value, and channels are
    independent."""
    q = np.array([0.05, 0.3, 0.8], np.float32)
    clean = np.broadcast_to(q[None, None, :, None, None], (4, 5, 3, 64, 64)).copy()
    noisy = DEGRADATIONS.build("raw_noise").test_set(clean, level, seed=7)
    residual = (noisy - clean).transpose(2, 0, 1, 3, 4).reshape(3, -1).astype(np.float64)
    sigma_s, sigma_r = LEVELS[level]
    np.testing.assert_allclose(residual.var(1), sigma_s * q + sigma_r**2, rtol=0.03)
    correlation = np.corrcoef(residual)
    assert np.abs(correlation[np.triu_indices(3, 1)]).max() < 0.02


def test_a_grey_model_on_a_grey_equal_colour_clip_gives_the_grey_result_on_each_channel():
    torch.manual_seed(0)
    model = models.build("deformable_3d", frames=5, blind=False, width=2, weight_width=4)
    degradation = DEGRADATIONS.build("raw_noise")
    grey, colour = grey_clip()
    level = degradation.level("high")
    alone = run_model(model, grey, degradation, level)[0]
    per_channel = frames_as_colour(run_model(model, channels_as_sequences(colour), degradation, level)[0])
    for c in range(3):
        np.testing.assert_array_equal(per_channel[:, c], alone)


@pytest.mark.parametrize("name", ["nlm_video", "bm4d"])
def test_a_classical_method_on_a_grey_equal_colour_clip_gives_the_grey_result_on_each_channel(name):
    grey, colour = grey_clip(n=1)
    level = dict(zip(("sigma_s", "sigma_r"), LEVELS["low"]))
    alone = run_baseline(name, grey[0], level)
    per_channel = run_baseline(name, colour[0], level, colour=True)
    assert per_channel.shape == (3, *alone.shape)
    for c in range(3):
        np.testing.assert_array_equal(per_channel[c], alone)


def test_cbm3d_restores_colour_better_than_the_noisy_frame():
    """BM3D's colour form (CBM3D, the package's bm3d_rgb) on a noisy colour ramp."""
    ramp = np.linspace(0.05, 0.9, 48, dtype=np.float32)
    clean = np.stack([np.tile(ramp, (40, 1)), np.tile(ramp[::-1], (40, 1)), np.full((40, 48), 0.3, np.float32)])
    sigma_s, sigma_r = LEVELS["high"]
    noisy = DEGRADATIONS.build("raw_noise").test_set(np.repeat(clean[None, None], 5, 1), "high", seed=1)[0]
    out = run_baseline("bm3d", noisy, {"sigma_s": sigma_s, "sigma_r": sigma_r}, colour=True)
    assert out.shape == clean.shape
    assert srgb_scores(out, clean)[0] > srgb_scores(noisy[2], clean)[0] + 5


def test_colour_scores_are_psnr_over_all_channels_and_the_mean_ssim():
    g = np.random.default_rng(1)
    clean = g.uniform(0.05, 0.9, (3, 32, 32))
    out = clean + g.normal(0, 0.01, clean.shape)
    p, s = srgb_scores(out, clean)
    per_channel = [srgb_scores(o, c) for o, c in zip(out, clean)]
    from core.metrics import to_display
    mse = np.mean((to_display(out) - to_display(clean)) ** 2)
    assert p == pytest.approx(10 * np.log10(1 / mse)) and s == pytest.approx(np.mean([x[1] for x in per_channel]))


def test_an_error_equal_in_r_g_and_b_is_no_colour_artefact():
    from studies.xu2019_colour import chroma_error

    g = np.random.default_rng(2)
    clean = g.uniform(0.1, 0.6, (3, 16, 16))
    grey = np.repeat(clean[:1], 3, 0)
    assert np.abs(chroma_error(grey * 1.2, grey)).max() < 1e-20  # equal error in every channel: brightness only
    tinted = grey.copy()
    tinted[0] += 0.05
    assert chroma_error(tinted, grey).mean() > 1e-4


def test_the_edge_chroma_psnr_scores_colour_fringes_at_edges_and_ignores_flat_areas():
    """A vertical red-blue edge: fringes of another colour along it lower the score; the same fringe away from any
    edge does not count."""
    from studies.xu2019_colour import edge_chroma_psnr, edge_mask

    clean = np.zeros((1, 3, 32, 32))
    clean[0, 0, :, :16], clean[0, 2, :, 16:] = 0.6, 0.6
    assert edge_mask(clean[0])[:, 15:17].all() and edge_mask(clean[0]).sum() == 64
    at_edge, away = clean.copy(), clean.copy()
    at_edge[0, 1, :, 15:17] += 0.2   # a green fringe on the edge
    away[0, 1, :, 2:4] += 0.2        # the same far from it
    assert edge_chroma_psnr(at_edge, clean) < edge_chroma_psnr(away, clean) - 20


def test_figure12_picks_the_window_where_colour_changes():
    from studies.xu2019_colour import WINDOW, figure12_window

    clean = np.full((2, 3, 64, 64), 0.3)
    clean[0, 0, :, 32:] = 0.9  # sequence 0: a grey-to-red edge at x = 32 (colour changes)
    clean[1, :, :, 32:] = 0.9  # sequence 1: a grey edge (brightness only)
    i, y, x = figure12_window(clean)
    assert i == 0 and x < 32 < x + WINDOW


def test_the_colour_claim_is_decided_against_its_margin(tmp_path):
    """Finding (8) from outputs: Deformable 3D's outputs equal the clean frames but for a small tint at the edges,
    KPN's a large one: holds at a margin below the gap, within noise above it."""
    import pandas as pd
    from core.spec import load_spec
    from studies.base import Evidence
    from studies.xu2019_colour import colour_finding

    clean = np.zeros((2, 5, 3, 32, 32))
    clean[..., 0, :, :16], clean[..., 2, :, 16:] = 0.6, 0.6
    ref = clean[:, 2]

    def tinted(amount):
        out = ref.copy()
        out[:, 1, :, 15:17] += amount
        return {"high_colour": out}

    outputs = {"d3d": tinted(0.01), "kpn5_video": tinted(0.1)}
    ev = Evidence(load_spec(), None, pd.DataFrame(), pd.DataFrame(), {}, {}, {}, tmp_path, colour={"frames": clean})
    found = colour_finding(ev, outputs, "d3d", "kpn5_video", ["high"], 0.5)
    assert found.verdict == "holds" and "high: " in found.evidence and " > " in found.evidence
    assert colour_finding(ev, outputs, "d3d", "kpn5_video", ["high"], 50.0).verdict == "within noise"
    swapped = {"d3d": outputs["kpn5_video"], "kpn5_video": outputs["d3d"]}
    assert colour_finding(ev, swapped, "d3d", "kpn5_video", ["high"], 0.5).verdict == "does not hold"
