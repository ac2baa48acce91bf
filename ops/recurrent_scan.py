"""The spatially variant linear recurrence of SVRNN (Zhang et al. CVPR 2018, after Liu et al. 2016's recursive
filters), swept along one of four directions of a feature map:

    h_t = (1 - p_t) * x_t + p_t * h_{t-1},    h_{-1} = 0,

x, p [B, C, H, W]: features and per-pixel, per-channel recurrence weights; t runs along the width ("left" =
left to right, "right" = right to left) or the height ("down" = top to bottom, "up" = bottom to top). The weights
may be negative (SVRNN bounds them in (-1, 1)), so no log-space trick applies.

On the CPU the sweep is a fused numba kernel, forward and backward (a torch.autograd.Function); the backward pass
sweeps the other way: with g_t = dL/dh_t + p_{t+1} g_{t+1}, dL/dx_t = (1 - p_t) g_t and
dL/dp_t = (h_{t-1} - x_t) g_t. On CUDA a parallel scan of the affine maps h -> p h + (1 - p) x runs in
ceil(log2 L) whole-tensor steps (Hillis and Steele: no division, so any sign of p), autograd doing its backward;
the H200 check timed the plain loop there at 4.25 SVRNN steps a second (reports/gpu_check.md). The plain PyTorch
loop over the scan length, one slice per step, is the reference the tests hold both to.
"""
from __future__ import annotations

import numba
import torch
import torch.nn.functional as F

import core.numba_threads  # noqa: F401  (the threading layer, before any parallel call)

DIRECTIONS = ("left", "right", "down", "up")


def _to_rows(x: torch.Tensor, direction: str) -> torch.Tensor:
    """[B, C, H, W] -> a contiguous [B*C*lines, L] whose rows are scanned from index 0 up."""
    if direction in ("down", "up"):
        x = x.transpose(-1, -2)
    if direction in ("right", "up"):
        x = x.flip(-1)
    return x.reshape(-1, x.shape[-1]).contiguous()


def _from_rows(rows: torch.Tensor, shape: torch.Size, direction: str) -> torch.Tensor:
    b, c, h, w = shape
    x = rows.reshape(b, c, *((w, h) if direction in ("down", "up") else (h, w)))
    if direction in ("right", "up"):
        x = x.flip(-1)
    return x.transpose(-1, -2) if direction in ("down", "up") else x


@numba.njit(parallel=True, cache=True)
def _forward_rows(x, p, h):
    for n in numba.prange(x.shape[0]):
        prev = 0.0
        for t in range(x.shape[1]):
            prev = (1.0 - p[n, t]) * x[n, t] + p[n, t] * prev
            h[n, t] = prev


@numba.njit(parallel=True, cache=True)
def _backward_rows(x, p, h, grad_h, grad_x, grad_p):
    for n in numba.prange(x.shape[0]):
        carry = 0.0  # p_{t+1} * g_{t+1}
        for t in range(x.shape[1] - 1, -1, -1):
            g = grad_h[n, t] + carry
            grad_x[n, t] = (1.0 - p[n, t]) * g
            grad_p[n, t] = ((h[n, t - 1] if t > 0 else 0.0) - x[n, t]) * g
            carry = p[n, t] * g


class _NumbaScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, p, direction):
        rows_x, rows_p = _to_rows(x.detach(), direction), _to_rows(p.detach(), direction)
        h = torch.empty_like(rows_x)
        _forward_rows(rows_x.numpy(), rows_p.numpy(), h.numpy())
        ctx.save_for_backward(rows_x, rows_p, h)
        ctx.direction, ctx.shape = direction, x.shape
        return _from_rows(h, x.shape, direction)

    @staticmethod
    def backward(ctx, grad_out):
        rows_x, rows_p, h = ctx.saved_tensors
        grad_h = _to_rows(grad_out.detach(), ctx.direction)
        grad_x, grad_p = torch.empty_like(rows_x), torch.empty_like(rows_p)
        _backward_rows(rows_x.numpy(), rows_p.numpy(), h.numpy(), grad_h.numpy(), grad_x.numpy(), grad_p.numpy())
        return (_from_rows(grad_x, ctx.shape, ctx.direction), _from_rows(grad_p, ctx.shape, ctx.direction), None)


def scan_torch(x: torch.Tensor, p: torch.Tensor, direction: str) -> torch.Tensor:
    """The recurrence as a plain PyTorch loop over the scan length (autograd does the backward)."""
    axis = -1 if direction in ("left", "right") else -2
    steps = range(x.shape[axis]) if direction in ("left", "down") else range(x.shape[axis] - 1, -1, -1)
    prev = torch.zeros_like(x.select(axis, 0))
    out = [None] * x.shape[axis]
    for t in steps:
        xt, pt = x.select(axis, t), p.select(axis, t)
        prev = (1 - pt) * xt + pt * prev
        out[t] = prev
    return torch.stack(out, dim=axis)


def scan_parallel(x: torch.Tensor, p: torch.Tensor, direction: str) -> torch.Tensor:
    """The recurrence in ceil(log2 L) steps: after the step of span d, (a_t, b_t) is the composition of the maps
    of the d steps ending at t (a_t h + b_t), so b_t ends as h_t; zeros enter before the first step."""
    a = _to_rows(p, direction)
    b = (1 - a) * _to_rows(x, direction)
    span = 1
    while span < b.shape[-1]:
        b = b + a * F.pad(b[:, :-span], (span, 0))
        if 2 * span < b.shape[-1]:  # the composed maps serve only a step still to come
            a = a * F.pad(a[:, :-span], (span, 0))
        span *= 2
    return _from_rows(b, x.shape, direction)


def scan(x: torch.Tensor, p: torch.Tensor, direction: str) -> torch.Tensor:
    """h of the recurrence along `direction`: the numba kernel on the CPU, the parallel scan on other devices."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction is {direction!r}; valid: {', '.join(DIRECTIONS)}")
    if x.shape != p.shape or x.ndim != 4:
        raise ValueError(f"x and p must both be [B, C, H, W]; got {tuple(x.shape)} and {tuple(p.shape)}")
    if x.device.type == "cpu" and x.dtype == torch.bfloat16:
        x = x.float()  # a bf16 forward (models/compute.py): the recurrence is summed in float32
    if x.device.type != "cpu":
        return scan_parallel(x, p, direction)
    if x.dtype not in (torch.float32, torch.float64):
        return scan_torch(x, p, direction)
    return _NumbaScan.apply(x, p.to(x.dtype), direction)


__all__ = ["DIRECTIONS", "scan", "scan_parallel", "scan_torch"]
