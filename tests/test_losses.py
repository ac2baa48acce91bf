import pytest
import torch

from objectives.losses import annealed_loss, annealing_weight, gamma_correct, group_outputs, reconstruction_loss
from core.colour import linear_to_srgb


def test_l1_and_mse_on_srgb_hand_computed():
    pred, target = torch.tensor([0.5, 0.0]), torch.tensor([0.25, 0.0])
    d = float(linear_to_srgb(torch.tensor(0.5)) - linear_to_srgb(torch.tensor(0.25)))
    assert reconstruction_loss(pred, target, "l1").item() == pytest.approx(abs(d) / 2)
    assert reconstruction_loss(pred, target, "mse").item() == pytest.approx(d**2 / 2)
    d22 = 0.5 ** (1 / 2.2) - 0.25 ** (1 / 2.2)
    assert reconstruction_loss(pred, target, "l1", "2.2").item() == pytest.approx(d22 / 2, rel=1e-5)
    with pytest.raises(ValueError, match="l1, mse"):
        reconstruction_loss(pred, target, "huber")
    with pytest.raises(ValueError, match="srgb, 2.2"):
        gamma_correct(pred, "1.8")


def test_annealing_weight_scales_the_decay_to_the_run():
    assert annealing_weight(0, 300) == pytest.approx(100.0)
    assert annealing_weight(300, 300) == pytest.approx(100 * 0.9998**200000)
    assert annealing_weight(150, 300) == pytest.approx(100 * 0.9998**100000)
    # the paper's own schedule is unchanged at its length
    assert annealing_weight(5000, 200000) == pytest.approx(100 * 0.9998**5000)


def test_group_outputs_scale_each_group_by_s():
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1, 1)
    samples = torch.tensor([1.0, 1.0, 2.0, 0.5]).reshape(1, 4, 1, 1)
    parts = group_outputs(weights, samples, 2)
    assert parts.flatten().tolist() == [2 * (1 + 2), 2 * (6 + 2)]


def test_annealed_loss_adds_the_group_terms():
    weights = torch.tensor([0.5, 0.5]).reshape(1, 2, 1, 1)
    samples = torch.tensor([0.2, 0.4]).reshape(1, 2, 1, 1)
    target = torch.tensor([0.3]).reshape(1, 1, 1, 1)
    out = (weights * samples).sum(1, keepdim=True)
    aux = {"weights": weights, "samples": samples, "groups": 2}
    base = reconstruction_loss(out, target)
    g1 = reconstruction_loss(torch.tensor(0.2).reshape(1, 1, 1, 1), target)
    g2 = reconstruction_loss(torch.tensor(0.4).reshape(1, 1, 1, 1), target)
    assert annealed_loss(out, aux, target, 3.0).item() == pytest.approx((base + 3 * (g1 + g2)).item())
    assert annealed_loss(out, aux, target, 0.0).item() == pytest.approx(base.item())


def test_normalised_annealing_keeps_the_gradient_scale_bounded_across_its_decay():
    """Eq. 11 as printed multiplies the gradient by up to 1 + eta*s (here ~300) at the start; normalised, the
    gradient stays within the range of its terms' gradients at every weight of the decay."""
    g = torch.Generator().manual_seed(0)
    samples = torch.rand(2, 27, 6, 6, generator=g)
    target = torch.rand(2, 1, 6, 6, generator=g)
    norms = {}
    for normalised in (False, True):
        for weight in (100.0, 10.0, 1.0, 0.1, 0.0):
            w = torch.full((2, 27, 6, 6), 1 / 27, requires_grad=True)
            out = (w * samples).sum(1, keepdim=True)
            aux = {"weights": w, "samples": samples, "groups": 3}
            annealed_loss(out, aux, target, weight, normalised=normalised).backward()
            norms[normalised, weight] = w.grad.norm().item()
    plain = norms[True, 0.0]
    assert max(norms[True, w] for w in (100.0, 10.0, 1.0, 0.1)) < 4 * plain
    assert min(norms[True, w] for w in (100.0, 10.0, 1.0, 0.1)) > plain / 4
    assert norms[False, 100.0] > 50 * plain  # the printed form: the start dwarfs the rest of the run
    assert norms[False, 0.0] == pytest.approx(plain)


def test_normalised_annealing_is_a_weighted_mean_of_its_terms():
    weights = torch.tensor([0.5, 0.5]).reshape(1, 2, 1, 1)
    samples = torch.tensor([0.2, 0.4]).reshape(1, 2, 1, 1)
    target = torch.tensor([0.3]).reshape(1, 1, 1, 1)
    out = (weights * samples).sum(1, keepdim=True)
    aux = {"weights": weights, "samples": samples, "groups": 2}
    terms = [reconstruction_loss(x.reshape(1, 1, 1, 1), target) for x in (out, torch.tensor(0.2), torch.tensor(0.4))]
    want = (terms[0] + 3 * (terms[1] + terms[2])) / (1 + 3 * 2)
    assert annealed_loss(out, aux, target, 3.0, normalised=True).item() == pytest.approx(want.item())
