"""The fused CPU sampler (ops/trilinear.py), from raw offsets to samples, against grid_sample and an independent
float64 reference: values, gradients with respect to the raw offsets and the frames, borders, positions on
pixels, 2D kernels on one frame of a stack."""
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


def kernel_grid(dims: int, frames: int) -> torch.Tensor:
    """[N, 3] (x, y, t): a 3x3x3 grid centred on the middle frame (dims 3), or a 3x3 grid on every frame."""
    if dims == 3:
        t, y, x = torch.meshgrid(torch.arange(3.0) + frames // 2 - 1, torch.arange(3.0) - 1, torch.arange(3.0) - 1,
                                 indexing="ij")
    else:
        t, y, x = torch.meshgrid(torch.arange(float(frames)), torch.arange(3.0) - 1, torch.arange(3.0) - 1,
                                 indexing="ij")
    return torch.stack([x, y, t], -1).reshape(-1, 3).double()


def positions(raw: torch.Tensor, grid: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """[B, N, H, W, 3] (x, y, t) written out: pixel + grid + reach tanh(raw); a 2D kernel's t is its grid's."""
    b, c, h, w = raw.shape
    n, dims = grid.shape[0], reach.numel()
    off = torch.tanh(raw).reshape(b, n, dims, h, w).permute(0, 1, 3, 4, 2) * reach
    off = torch.cat([off, torch.zeros_like(off[..., :1])], -1) if dims == 2 else off
    ys, xs = torch.meshgrid(torch.arange(h, dtype=raw.dtype), torch.arange(w, dtype=raw.dtype), indexing="ij")
    pixel = torch.stack([xs, ys, torch.zeros_like(xs)], -1)
    return pixel[None, None] + grid[None, :, None, None] + off


def through_grid_sample(volume, raw, grid, reach):
    return sample_trilinear(volume[:, None], positions(raw, grid, reach))[:, 0]


CASES = [(3, 5), (2, 5), (2, 1)]  # (dims, frames): a 3D kernel, 2D kernels per frame, a 2D kernel on an image


@pytest.mark.parametrize("dims,frames", CASES)
def test_values_equal_an_independent_reference_and_grid_sample(dims, frames):
    """Offsets reaching 3 px past every border, and at one pixel none (positions on pixels)."""
    g = torch.Generator().manual_seed(dims + frames)
    volume = torch.rand(2, frames, 7, 9, generator=g, dtype=torch.float64)
    grid = kernel_grid(dims, frames)
    reach = torch.tensor([3.0, 3.0, 1.5][:dims], dtype=torch.float64)
    raw = torch.randn(2, grid.shape[0] * dims, 7, 9, generator=g, dtype=torch.float64) * 2
    raw[0, :, 3, 4] = 0.0
    ours = sample(volume, raw, grid, reach)
    want = reference(volume.numpy(), positions(raw, grid, reach).numpy())
    assert np.allclose(ours.numpy(), want, atol=1e-12, rtol=0)
    assert torch.allclose(ours, through_grid_sample(volume, raw, grid, reach), atol=1e-12, rtol=0)
    as32 = sample(volume.float(), raw.float(), grid.float(), reach.float())
    assert as32.dtype == torch.float32 and torch.allclose(as32.double(), ours, atol=1e-5)
    assert ours.is_contiguous(memory_format=torch.channels_last)  # pixel-major, as the weight network reads it


@pytest.mark.parametrize("dims,frames", CASES)
def test_gradients_match_finite_differences_and_grid_sample(dims, frames):
    """gradcheck with every position inside and off the pixel lattice (where the derivative jumps); at borders
    and on pixels the same gradients as through grid_sample: zero along a clamped axis, towards the next pixel on
    a pixel."""
    g = torch.Generator().manual_seed(10 + dims + frames)
    volume = torch.rand(1, frames, 6, 7, generator=g, dtype=torch.float64).requires_grad_()
    grid, reach = kernel_grid(dims, frames), torch.tensor([0.5, 0.5, 0.5][:dims], dtype=torch.float64)
    # offsets of 0.1-0.4 px: off the lattice, and inside but for the grid's outer taps at the border
    raw = torch.atanh(torch.rand(1, grid.shape[0] * dims, 6, 7, generator=g, dtype=torch.float64) * 0.6 + 0.2)
    assert torch.autograd.gradcheck(lambda v, r: sample(v, r, grid, reach), (volume, raw.requires_grad_()),
                                    atol=1e-8)
    edge = (torch.randn(1, grid.shape[0] * dims, 6, 7, generator=g, dtype=torch.float64) * 2)
    edge[0, :, 2, 3] = 0.0
    reach = torch.tensor([3.0, 3.0, 1.5][:dims], dtype=torch.float64)
    weights = torch.rand(1, grid.shape[0], 6, 7, generator=g, dtype=torch.float64)
    grads = []
    for fn in (sample, through_grid_sample):
        r = edge.clone().requires_grad_()
        volume.grad = None
        (fn(volume, r, grid, reach) * weights).sum().backward()
        grads.append((r.grad, volume.grad))
    (ours_raw, ours_volume), (want_raw, want_volume) = grads
    assert torch.allclose(ours_raw, want_raw, atol=1e-12) and torch.allclose(ours_volume, want_volume, atol=1e-12)


@pytest.mark.parametrize("dims,frames", CASES)
def test_no_offsets_read_the_regular_grid_as_zero_offsets_do(dims, frames):
    """The fixed kernel passes no offsets: the same samples and frame gradients as zero offsets, bit for bit, and
    the regular grid's own values (a tap past the border reads the border pixel)."""
    g = torch.Generator().manual_seed(20 + dims + frames)
    volume = torch.rand(2, frames, 5, 6, generator=g).requires_grad_()
    grid, reach = kernel_grid(dims, frames).float(), torch.tensor([3.0, 3.0, 1.5][:dims])
    weights = torch.rand(2, grid.shape[0], 5, 6, generator=g)
    outs = []
    for raw in (None, torch.zeros(2, grid.shape[0] * dims, 5, 6)):
        volume.grad = None
        out = sample(volume, raw, grid, reach)
        (out * weights).sum().backward()
        outs.append((out.detach(), volume.grad))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    x, y, t = (grid[:, k].long()[:, None, None] + pix for k, pix in
               enumerate((torch.arange(6)[None], torch.arange(5)[:, None], 0)))
    want = volume.detach()[:, t.clamp(0, frames - 1), y.clamp(0, 4), x.clamp(0, 5)]
    assert torch.equal(outs[0][0], want)


def test_wrong_shapes_devices_and_frames_are_refused():
    grid, reach = kernel_grid(3, 5).float(), torch.ones(3)
    with pytest.raises(ValueError, match="offsets"):
        sample(torch.zeros(1, 5, 3, 3), torch.zeros(1, 27 * 2, 3, 3), grid, reach)
    with pytest.raises(ValueError, match="offsets"):
        sample(torch.zeros(5, 3, 3), None, grid, reach)
    with pytest.raises(ValueError, match="float32 or float64"):
        sample(torch.zeros(1, 5, 3, 3, dtype=torch.float16), torch.zeros(1, 81, 3, 3), grid, reach)
    with pytest.raises(ValueError, match="grid t must be frames"):
        sample(torch.zeros(1, 5, 3, 3), torch.zeros(1, 54, 3, 3), grid + 0.5, torch.ones(2))
