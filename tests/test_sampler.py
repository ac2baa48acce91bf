import pytest
import torch

import models
from models.sampler import sample_bilinear, sample_trilinear
from tools.benchmark import former_positions


def bilinear_by_hand(img, x, y):
    h, w = img.shape
    x, y = min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0)  # clamp the continuous coordinate
    x0, y0 = int(x), int(y)
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    return ((1 - fx) * (1 - fy) * img[y0, x0] + fx * (1 - fy) * img[y0, x1] + (1 - fx) * fy * img[y1, x0]
            + fx * fy * img[y1, x1])


POINTS_2D = [(1.25, 2.5), (0.0, 0.0), (4.0, 3.0), (3.75, 0.5), (-0.7, 1.5), (5.6, 2.2), (2.3, -3.0), (9.0, 9.0)]


def test_bilinear_equals_hand_computed_interpolation_inside_at_and_beyond_borders():
    img = torch.arange(20, dtype=torch.float64).reshape(4, 5) ** 1.5
    coords = torch.tensor(POINTS_2D, dtype=torch.float64).reshape(1, len(POINTS_2D), 1, 1, 2)
    got = sample_bilinear(img[None, None], coords).flatten()
    want = torch.tensor([bilinear_by_hand(img, x, y) for x, y in POINTS_2D], dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12)
    assert got[1] == img[0, 0] and got[2] == img[3, 4]  # exact at the corners
    assert got[7] == img[3, 4]  # beyond the border: the border value, never zero


def test_trilinear_equals_hand_computed_interpolation():
    vol = torch.rand(3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    points = [(1.25, 2.5, 0.5), (0.0, 0.0, 0.0), (4.0, 3.0, 2.0), (2.2, 1.7, 1.75), (-1.0, 1.5, 3.4),
              (6.0, -2.0, -1.0)]
    coords = torch.tensor(points, dtype=torch.float64).reshape(1, len(points), 1, 1, 3)
    got = sample_trilinear(vol[None, None], coords).flatten()
    want = []
    for x, y, t in points:
        t = min(max(t, 0.0), 2.0)
        t0 = int(t)
        t1, ft = min(t0 + 1, 2), t - int(t)
        want.append((1 - ft) * bilinear_by_hand(vol[t0], x, y) + ft * bilinear_by_hand(vol[t1], x, y))
    assert torch.allclose(got, torch.tensor(want, dtype=torch.float64), atol=1e-12)


def test_sampler_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(1)
    img = torch.rand(1, 1, 6, 7, dtype=torch.float64, generator=g, requires_grad=True)
    xy = (torch.rand(1, 3, 2, 2, 2, dtype=torch.float64, generator=g) * 4 + 1.1).requires_grad_()
    assert torch.autograd.gradcheck(sample_bilinear, (img, xy))
    vol = torch.rand(1, 1, 4, 6, 7, dtype=torch.float64, generator=g, requires_grad=True)
    xyt = (torch.rand(1, 3, 2, 2, 3, dtype=torch.float64, generator=g) * torch.tensor([4.0, 4.0, 2.0])
           + torch.tensor([1.1, 1.1, 0.3], dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(sample_trilinear, (vol, xyt))


@pytest.mark.parametrize("arch,kw", [("deformable_2d", {}), ("deformable_2d_per_frame", {}),
                                     ("deformable_3d", {}), ("deformable_3d", {"kernel": (5, 5, 5)})])
def test_zero_offsets_and_one_hot_weights_are_the_identity(arch, kw):
    model = models.build(arch, width=2, weight_width=4, **kw).double()
    centre = torch.tensor([0.0, 0.0, (model.frames - 1) / 2], dtype=torch.float64)
    tap = int((model.grid - centre).abs().sum(1).argmin())
    assert torch.equal(model.grid[tap], centre)  # the regular grid holds the reference pixel
    with torch.no_grad():  # zero offsets, and the weight network's head outputs exactly one-hot
        model.offset_net.head.weight.zero_()
        model.weight_net[-1].weight.zero_()
        model.weight_net[-1].bias.zero_()
        model.weight_net[-1].bias[tap] = 1.0
    frames = torch.rand(2, model.frames, 11, 13, dtype=torch.float64)
    out = model(frames, torch.rand(2, 1, 11, 13, dtype=torch.float64))
    assert torch.allclose(out[:, 0], frames[:, model.frames // 2], atol=1e-12, rtol=0)


def test_filter_gradients_wrt_offsets_and_weights_match_finite_differences():
    model = models.build("deformable_3d", width=2, weight_width=4).double()
    frames = torch.rand(1, 5, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def filtered(offsets_raw, weights):
        return (weights * model.sample(frames, offsets_raw)).sum(1)

    g = torch.Generator().manual_seed(3)
    offsets = (torch.randn(1, 3 * 27, 6, 7, dtype=torch.float64, generator=g) * 0.3).requires_grad_()
    weights = torch.randn(1, 27, 6, 7, dtype=torch.float64, generator=g).requires_grad_()
    assert torch.autograd.gradcheck(filtered, (offsets, weights), atol=1e-6)


@pytest.mark.parametrize("arch,kw", [("deformable_2d", {}), ("deformable_2d_per_frame", {}),
                                     ("deformable_3d", {}), ("deformable_3d", {"dynamic_offsets": False})])
def test_the_fused_cpu_path_gives_the_grid_sample_paths_samples_and_gradients(arch, kw):
    """DeformableKernel.sample (ops/trilinear.py on the CPU) against sample_grid (the positions and grid_sample,
    CUDA's path), in float64: the samples, and the gradients with respect to the raw offsets; the fixed kernel
    (no offsets) reads its grid through the same kernel."""
    model = models.build(arch, width=2, weight_width=4, **kw).double()
    g = torch.Generator().manual_seed(6)
    frames = torch.rand(2, model.frames, 9, 11, dtype=torch.float64, generator=g)
    raw = None
    if model.dynamic_offsets:
        raw = torch.randn(2, model.dims * model.samples, 9, 11, dtype=torch.float64, generator=g) * 2
    got, want = model.sample(frames, raw), model.sample_grid(frames, raw)
    assert torch.allclose(got, want, atol=1e-12, rtol=0)
    if raw is not None:
        upstream = torch.randn(got.shape, dtype=torch.float64, generator=g)
        grads = [torch.autograd.grad((fn(frames, raw.requires_grad_()) * upstream).sum(), raw)[0]
                 for fn in (model.sample, model.sample_grid)]
        assert torch.allclose(grads[0], grads[1], atol=1e-12, rtol=0)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("arch", ["deformable_2d", "deformable_2d_per_frame", "deformable_3d"])
def test_positions_and_their_gradient_are_the_three_coordinate_ones_bit_for_bit(arch, layout):
    """Sample-major positions, their gradient back in the offsets' own memory layout (the offset network's
    channels-last output too), with the values of the former three-coordinate positions."""
    model = models.build(arch, width=2, weight_width=4)
    b, h, w = 2, 9, 11
    raw = torch.randn(b, model.dims * model.samples, h, w, generator=torch.Generator().manual_seed(4))
    raw = raw.contiguous(memory_format=layout)
    raw_new, raw_old = raw.clone().requires_grad_(), raw.clone().requires_grad_()
    new, old = model.sample_positions(raw_new, b, h, w), former_positions(model, raw_old, b, h, w)
    assert new.shape[-1] == model.dims and new.is_contiguous() and torch.equal(model.with_t(new), old)
    upstream = torch.randn(old[..., :model.dims].shape, generator=torch.Generator().manual_seed(5))
    (new * upstream).sum().backward()
    (old[..., :model.dims] * upstream).sum().backward()
    assert torch.equal(raw_new.grad, raw_old.grad) and raw_new.grad.is_contiguous(memory_format=layout)
