"""The fused CPU sampler (ops/trilinear.py) against grid_sample and an independent float64 reference: values,
gradients with respect to positions and frames, borders and positions on pixels."""
import numpy as np
import pytest
import torch

from models.sampler import sample_trilinear
from ops.trilinear import sample


def reference(volume: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Trilinear interpolation written out, in float64: clamp each coordinate to the volume, weigh 8 corners."""
    b_, t_, h_, w_ = volume.shape
    out = np.zeros(pos.shape[:-1])
    for idx in np.ndindex(*pos.shape[:-1]):
        coords = [min(max(float(c), 0.0), size - 1.0) for c, size in zip(pos[idx], (w_, h_, t_))]
        for dt in (0, 1):
            for dy in (0, 1):
                for dx in (0, 1):
                    corner, weight = [], 1.0
                    for c, d, size in zip(coords, (dx, dy, dt), (w_, h_, t_)):
                        lo = int(np.floor(c))
                        corner.append(min(lo + d, size - 1))
                        weight *= (c - lo) if d else (1 - (c - lo))
                    out[idx] += weight * volume[idx[0], corner[2], corner[1], corner[0]]
    return out


def positions(shape, t_size, h, w, g, spill=2.0):
    """Random positions reaching `spill` px beyond every border, and some exactly on pixels and on borders."""
    span = torch.tensor([w - 1 + 2 * spill, h - 1 + 2 * spill, t_size - 1 + spill])
    p = torch.rand(*shape, 3, generator=g, dtype=torch.float64) * span - torch.tensor([spill, spill, spill / 2])
    p[0, 0, 0, :3] = torch.tensor([[0.0, 0.0, 0.0], [w - 1.0, h - 1.0, t_size - 1.0], [2.0, 3.0, 1.0]])
    return p


def test_values_equal_an_independent_reference_and_grid_sample():
    g = torch.Generator().manual_seed(0)
    volume = torch.rand(2, 5, 7, 9, generator=g, dtype=torch.float64)
    pos = positions((2, 4, 3, 5), 5, 7, 9, g)
    ours = sample(volume, pos)
    assert np.allclose(ours.numpy(), reference(volume.numpy(), pos.numpy()), atol=1e-12, rtol=0)
    assert torch.allclose(ours, sample_trilinear(volume[:, None], pos)[:, 0], atol=1e-12, rtol=0)
    as32 = sample(volume.float(), pos.float())
    assert as32.dtype == torch.float32 and torch.allclose(as32.double(), ours, atol=1e-5)


def test_a_single_frame_is_bilinear():
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 1, 6, 8, generator=g, dtype=torch.float64)
    pos = positions((1, 3, 4, 4), 1, 6, 8, g)
    pos[..., 2] = 0.0
    assert np.allclose(sample(image, pos).numpy(), reference(image.numpy(), pos.numpy()), atol=1e-12, rtol=0)


def test_gradients_match_finite_differences_and_grid_sample():
    """gradcheck away from pixel coordinates (where the derivative jumps); at borders and on pixels the same
    gradients as grid_sample's: zero along a clamped axis, towards the next pixel on a pixel."""
    g = torch.Generator().manual_seed(2)
    volume = torch.rand(1, 3, 5, 6, generator=g, dtype=torch.float64).requires_grad_()
    pos = (torch.rand(1, 2, 3, 4, 3, generator=g, dtype=torch.float64) * torch.tensor([4.0, 3.0, 1.6]) + 0.2)
    assert torch.autograd.gradcheck(sample, (volume, pos.requires_grad_()), atol=1e-8)
    edge = positions((1, 2, 3, 4), 3, 5, 6, g).requires_grad_()
    weights = torch.rand(1, 2, 3, 4, generator=g, dtype=torch.float64)
    (sample(volume, edge) * weights).sum().backward()
    ours = edge.grad.clone(), volume.grad.clone()
    edge.grad, volume.grad = None, None
    (sample_trilinear(volume[:, None], edge)[:, 0] * weights).sum().backward()
    assert torch.allclose(ours[0], edge.grad, atol=1e-12) and torch.allclose(ours[1], volume.grad, atol=1e-12)


def test_wrong_shapes_and_devices_are_refused():
    with pytest.raises(ValueError, match="positions"):
        sample(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3, 2))
    with pytest.raises(ValueError, match="float32 or float64"):
        sample(torch.zeros(1, 2, 3, 3, dtype=torch.float16), torch.zeros(1, 2, 3, 3, 3))
