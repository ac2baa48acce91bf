"""The deformable kernels' sampler on the CPU, from the offset network's output to the samples, as one fused
numba kernel each way. Forward: positions (pixel + regular grid + reach * tanh(offset)), clamp and a bilinear or
trilinear gather; backward: the gradient with respect to the raw offsets (through tanh) and, when they need one,
the frames, in one pass over the samples.

    sample(volume [B, T, H, W], raw [B, N * dims, H, W] or None, grid [N, 3], reach [dims]) -> samples [B, N, H, W]

Sample n of pixel (i, j) reads x = j + grid[n, 0] + reach[0] tanh(raw[n dims]), y likewise from raw[n dims + 1],
and t = grid[n, 2] + reach[2] tanh(raw[n dims + 2]) for a 3D kernel (dims 3, trilinear) or t = grid[n, 2], a
whole frame, for a 2D one (dims 2, bilinear on that frame). It computes what models/deformable.py's grid_sample
path computes (align_corners=True, "border" padding: a position outside the volume is clamped to it, and its
gradient vanishes along a clamped axis; a position on a pixel takes the derivative towards the next pixel),
without the sample-major copy of the offsets, the positions' elementwise chain, the normalised grid and the
generic kernel's bookkeeping (docs/recipe.md). Offsets and samples are read and written pixel-major ([B, H, W,
channels], the channels-last layout of the offset network's output and the weight network's input), so that a
pixel's samples are one contiguous run. tests/test_trilinear.py checks it against grid_sample and a float64
reference; CUDA keeps grid_sample.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

ONE = np.float32(1.0)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _axis(p, size):
    """The clamped coordinate's lower and upper pixel, its weight towards the upper one, and 1 where it may move
    (strictly inside, as grid_sample's border mode) or 0 where it is clamped. Float32 constants keep float32
    arithmetic in float32 (a float64 input stays float64)."""
    top = np.float32(size - 1)
    inside = np.float32(0.0) < p < top
    p = min(max(p, np.float32(0.0)), top)
    lo = min(int(p), size - 1)
    # unsigned pixels: numba then indexes without its wraparound for negative indices (a fifth of the time)
    return np.uint32(lo), np.uint32(min(lo + 1, size - 1)), p - np.float32(lo), ONE if inside else np.float32(0.0)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _tanh(s, o):
    """o = tanh(x) of one pixel's offsets from s = sigmoid(2x): torch's sigmoid is vectorised, its tanh 6x slower on
    this CPU (docs/recipe.md). Written to o and read back, so that fastmath cannot fold it into the positions'
    arithmetic: the same bits as torch's 2 s - 1."""
    for k in range(o.shape[0]):
        o[k] = np.float32(2.0) * s[k] - ONE
    return o


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _cell(v, o, k, grid, reach, n, fi, fj, dims):
    """Sample n's cell: the corners' pixels along x, y and t, and its weights and clamp masks along each."""
    x0, x1, fx, mx = _axis(fj + grid[n, 0] + reach[0] * o[k], v.shape[2])
    y0, y1, fy, my = _axis(fi + grid[n, 1] + reach[1] * o[k + 1], v.shape[1])
    if dims == 3:
        t0, t1, ft, mt = _axis(grid[n, 2] + reach[2] * o[k + 2], v.shape[0])
    else:
        t0 = t1 = np.uint32(int(grid[n, 2]))
        ft = mt = np.float32(0.0)
    return x0, x1, fx, mx, y0, y1, fy, my, t0, t1, ft, mt


@numba.njit(cache=True, nogil=True, fastmath=True)
def _forward(volume, off, grid, reach, out):
    """volume [B, T, H, W], off [B, H, W, N * dims] (sigmoid of twice the raw offsets), reach a tuple of dims
    floats -> out [B, H, W, N]. The tuple's length is a constant to numba: a kernel compiled per dims, without the
    other's branches (2D: a third faster)."""
    samples, dims, th = out.shape[3], len(reach), np.empty(off.shape[3], off.dtype)
    for b in range(out.shape[0]):
        v = volume[b]
        for i in range(out.shape[1]):
            fi = np.float32(i)
            for j in range(out.shape[2]):
                o, fj = _tanh(off[b, i, j], th), np.float32(j)
                for n in range(samples):
                    x0, x1, fx, _, y0, y1, fy, _, t0, t1, ft, _ = _cell(v, o, n * dims, grid, reach, n, fi, fj,
                                                                        dims)
                    a = v[t0, y0, x0] + fx * (v[t0, y0, x1] - v[t0, y0, x0])
                    c = v[t0, y1, x0] + fx * (v[t0, y1, x1] - v[t0, y1, x0])
                    near = a + fy * (c - a)
                    if dims == 3:
                        a = v[t1, y0, x0] + fx * (v[t1, y0, x1] - v[t1, y0, x0])
                        c = v[t1, y1, x0] + fx * (v[t1, y1, x1] - v[t1, y1, x0])
                        near += ft * (a + fy * (c - a) - near)
                    out[b, i, j, n] = near


@numba.njit(cache=True, nogil=True, fastmath=True)
def _backward(volume, off, grid, reach, grad_out, grad_raw, grad_volume, want_volume):
    samples, dims, th = grad_out.shape[3], len(reach), np.empty(off.shape[3], off.dtype)
    for b in range(grad_out.shape[0]):
        v = volume[b]
        for i in range(grad_out.shape[1]):
            fi = np.float32(i)
            for j in range(grad_out.shape[2]):
                o, fj, gr = _tanh(off[b, i, j], th), np.float32(j), grad_raw[b, i, j]
                for n in range(samples):
                    g, k = grad_out[b, i, j, n], n * dims
                    x0, x1, fx, mx, y0, y1, fy, my, t0, t1, ft, mt = _cell(v, o, k, grid, reach, n, fi, fj, dims)
                    # the x-edges of the cell (near frame y0, y1; far frame y0, y1): base and slope
                    a0, da = v[t0, y0, x0], v[t0, y0, x1] - v[t0, y0, x0]
                    b0, db = v[t0, y1, x0], v[t0, y1, x1] - v[t0, y1, x0]
                    dx = da + fy * (db - da)
                    dy = b0 + fx * db - a0 - fx * da
                    if dims == 3:
                        c0, dc = v[t1, y0, x0], v[t1, y0, x1] - v[t1, y0, x0]
                        d0, dd = v[t1, y1, x0], v[t1, y1, x1] - v[t1, y1, x0]
                        a, bb, c, d = a0 + fx * da, b0 + fx * db, c0 + fx * dc, d0 + fx * dd
                        dx += ft * (dc + fy * (dd - dc) - dx)
                        dy += ft * (d - c - dy)
                        dt = c + fy * (d - c) - a - fy * (bb - a)
                        gr[k + 2] = g * mt * dt * reach[2] * (ONE - o[k + 2] * o[k + 2])
                    # d position / d raw offset = reach (1 - tanh^2)
                    gr[k] = g * mx * dx * reach[0] * (ONE - o[k] * o[k])
                    gr[k + 1] = g * my * dy * reach[1] * (ONE - o[k + 1] * o[k + 1])
                    if want_volume:
                        for t, wt in ((t0, ONE - ft), (t1, ft)):
                            for y, wy in ((y0, ONE - fy), (y1, fy)):
                                grad_volume[b, t, y, x0] += g * wt * wy * (ONE - fx)
                                grad_volume[b, t, y, x1] += g * wt * wy * fx


class _Sample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, volume, raw, grid, reach):
        volume = volume.detach().contiguous()
        b, _, h, w = volume.shape
        if raw is None:  # the regular grid: sigmoid(0) as one zero-stride view, no memory and no sigmoid
            off = volume.new_full((), 0.5).expand(b, h, w, grid.shape[0] * len(reach))
        else:
            # sigmoid(2 raw), which the kernels take to tanh (_tanh); pixel-major, which is no copy where the offset
            # network's output is channels-last
            off = raw.detach().mul(2).sigmoid_().permute(0, 2, 3, 1).contiguous()
        out = volume.new_empty((b, h, w, grid.shape[0]))
        _forward(volume.numpy(), off.numpy(), grid.numpy(), reach, out.numpy())
        ctx.save_for_backward(volume, off, grid)
        ctx.reach = reach
        return out.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad_out):
        volume, off, grid = ctx.saved_tensors
        want_volume = ctx.needs_input_grad[0]
        grad_raw = torch.empty(off.shape, dtype=off.dtype)
        grad_volume = torch.zeros_like(volume) if want_volume else volume.new_zeros((1, 1, 1, 1))
        _backward(volume.numpy(), off.numpy(), grid.numpy(), ctx.reach,
                  grad_out.detach().permute(0, 2, 3, 1).contiguous().numpy(), grad_raw.numpy(),
                  grad_volume.numpy(), want_volume)
        grad_raw = grad_raw.permute(0, 3, 1, 2) if ctx.needs_input_grad[1] else None
        return (grad_volume if want_volume else None), grad_raw, None, None


def sample(volume: torch.Tensor, raw: torch.Tensor | None, grid: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """Samples [B, N, H, W] (channels-last strides) of volume [B, T, H, W] at the positions of the raw offsets
    [B, N * dims, H, W] (None: zero offsets, the regular grid itself), the regular grid [N, 3] (x, y, t) and the
    offsets' reach [dims] in pixels, on the CPU, in float32 or float64. A 2D kernel's grid t must be whole frames."""
    n, dims = grid.shape[0], reach.numel()
    want = (volume.shape[0], n * dims, *volume.shape[2:]) if volume.ndim == 4 else None
    if volume.ndim != 4 or (raw is not None and tuple(raw.shape) != want) or dims not in (2, 3) \
            or grid.shape != (n, 3):
        got = "none" if raw is None else tuple(raw.shape)
        raise ValueError(f"volume must be [B, T, H, W], offsets [B, N * dims, H, W], grid [N, 3] and reach [dims] "
                         f"(2 or 3); got {tuple(volume.shape)}, {got}, {tuple(grid.shape)} and "
                         f"{tuple(reach.shape)}")
    if volume.device.type != "cpu" or volume.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"the fused sampler runs on CPU float32 or float64 tensors; got {volume.dtype} on "
                         f"{volume.device}")
    if dims == 2 and not (torch.equal(grid[:, 2], grid[:, 2].round()) and 0 <= grid[:, 2].min()
                          and grid[:, 2].max() < volume.shape[1]):
        raise ValueError(f"a 2D kernel's grid t must be frames of the volume (0 to {volume.shape[1] - 1}); got "
                         f"{grid[:, 2].unique().tolist()}")
    dtype, scalar = volume.dtype, np.float32 if volume.dtype == torch.float32 else np.float64
    raw = None if raw is None else raw.to(dtype)
    return _Sample.apply(volume, raw, grid.to(dtype).contiguous(), tuple(map(scalar, reach.tolist())))


__all__ = ["sample"]
