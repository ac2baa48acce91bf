"""NLRN, the non-local recurrent network (Liu, Wen, Fan, Loy, Huang, NeurIPS 2018): one recurrent cell, its
weights shared across `states` unrolled states, each state a non-local module over a q x q neighbourhood and two
3x3 convolutions, with the input features added back to every state and the noise predicted as a residual.

The non-local module (paper eq. 3-5) weighs the features g(x_j) of every position j in the q x q neighbourhood
of i by softmax_j(theta(x_i) . phi(x_j)); with correlation propagation the previous state's correlation is added
before the softmax (paper eq. 6), so the states refine one set of matches. Restricting j to a neighbourhood is
the paper's point: whole-image matches on a noisy input are unreliable, and it bounds the cost.

Computed as blocked attention (after "halo" attention): queries in b x b blocks attend, by one batched matrix
product, to the (b + q - 1)^2 keys around their block, and a mask keeps each query's own q x q window and the
positions inside the frame. Exactly the neighbourhood softmax, at the speed of a matrix product rather than a
loop over q^2 shifts. Large frames run in overlapping tiles (`tile`), with an overlap of the whole receptive
field, so that a tiled output equals the untiled one.

Our departures, for 2-core budgets: no batch norm (batches of 8 crops; the paper normalises before each
convolution), the noise map as an input channel for the non-blind variant, like the suite's other models.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from core.registry import MODELS
from models.base import Denoiser

# Query block side. The mask wastes (b+q-1)^2 / q^2 of the products, smaller blocks make smaller matrix products;
# measured on 2 cores (batch 8, 48 px, width 16, 4 states): b = 4, 6, 8 within 10% at q = 7, b = 6 best at q = 15.
BLOCK = 6


def block_side(q: int) -> int:
    """BLOCK, or for a wide window a third of it: each block's halo copies its keys (b+q-1)^2 / b^2 times and
    the mask wastes (b+q-1)^2 / q^2 of the products, so memory is least near b ~ q / 3 (at q = 45 on 128 px:
    0.47 GB a state and crop in float32 at b = 15 against 1.10 GB at b = 6, the halos counted with the weights)."""
    return max(BLOCK, q // 3)


@functools.lru_cache(maxsize=32)
def neighbourhood_mask(h: int, w: int, q: int, b: int = BLOCK) -> torch.Tensor:
    """[blocks, b*b, (b+q-1)^2] True where a key is *outside* the query's q x q window or outside the h x w
    frame (frame padded to whole blocks; padded queries are dropped afterwards)."""
    r = q // 2
    side = b + 2 * r
    a = torch.arange(b)
    u = torch.arange(side)
    # Query row a of a block sees halo rows a .. a + 2r (halo row u is frame row block_start + u - r).
    window_1d = (u[None, :] >= a[:, None]) & (u[None, :] <= a[:, None] + 2 * r)          # [b, side]
    window = (window_1d[:, None, :, None] & window_1d[None, :, None, :]).reshape(b * b, side * side)
    nh, nw = -(-h // b), -(-w // b)
    rows = torch.arange(nh)[:, None] * b + u[None, :] - r                                  # [nh, side]
    cols = torch.arange(nw)[:, None] * b + u[None, :] - r
    inside = ((rows >= 0) & (rows < h))[:, None, :, None] & ((cols >= 0) & (cols < w))[None, :, None, :]
    inside = inside.reshape(nh * nw, 1, side * side)
    # A padded query (past the frame's edge, dropped afterwards) may have no key inside the frame: it keeps its
    # whole window, so that its softmax is finite (an all -inf row would put NaN into the gradients).
    rows_q = torch.arange(nh)[:, None] * b + a[None, :]                                     # [nh, b]
    cols_q = torch.arange(nw)[:, None] * b + a[None, :]
    real = ((rows_q < h)[:, None, :, None] & (cols_q < w)[None, :, None, :]).reshape(nh * nw, b * b, 1)
    return ~(window[None] & (inside | ~real))


@functools.lru_cache(maxsize=32)
def _mask_bias(h: int, w: int, q: int, b: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    """The mask as an additive bias (0 inside, -inf outside): one add instead of a masked copy."""
    bias = torch.zeros(neighbourhood_mask(h, w, q, b).shape, dtype=dtype)
    return bias.masked_fill_(neighbourhood_mask(h, w, q, b), float("-inf")).to(device)


def _blocks(x: torch.Tensor, b: int) -> torch.Tensor:
    """[B, C, Hp, Wp] (Hp, Wp multiples of b) -> [B * blocks, b*b, C]."""
    n, c, hp, wp = x.shape
    x = x.reshape(n, c, hp // b, b, wp // b, b).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(n * (hp // b) * (wp // b), b * b, c)


def _halos(x: torch.Tensor, b: int, r: int) -> torch.Tensor:
    """[B, C, Hp + 2r, Wp + 2r] -> [B * blocks, (b+2r)^2, C]: each block's keys with r pixels around it."""
    n, c = x.shape[:2]
    side = b + 2 * r
    cols = F.unfold(x, kernel_size=side, stride=b)                                          # [B, C*side^2, blocks]
    return cols.reshape(n, c, side * side, -1).permute(0, 3, 2, 1).reshape(-1, side * side, c)


def _unblocks(y: torch.Tensor, n: int, hp: int, wp: int, b: int) -> torch.Tensor:
    c = y.shape[-1]
    y = y.reshape(n, hp // b, wp // b, b, b, c).permute(0, 5, 1, 3, 2, 4)
    return y.reshape(n, c, hp, wp)


def neighbourhood_attention(theta: torch.Tensor, phi: torch.Tensor, g: torch.Tensor, q: int,
                            previous: torch.Tensor | None = None, b: int | None = None):
    """y_i = sum_j softmax_j(theta_i . phi_j + previous_ij) g_j over the q x q window of i inside the frame.
    theta, phi [B, Ce, H, W]; g [B, C, H, W]. Returns y [B, C, H, W] and the correlation (before the mask and
    the softmax, previous included) that the next state adds: [B * blocks, b*b, (b+q-1)^2]."""
    if q % 2 == 0 or q < 1:
        raise ValueError(f"the neighbourhood q is {q}; it must be odd and positive")
    b = b or block_side(q)
    n, ce, h, w = theta.shape
    r = q // 2
    hp, wp = -(-h // b) * b, -(-w // b) * b
    theta = F.pad(theta, (0, wp - w, 0, hp - h))
    # Keys and values unfolded into their halos together: one im2col instead of two.
    halos = _halos(F.pad(torch.cat([phi, g], 1), (r, r + wp - w, r, r + hp - h)), b, r)
    keys, values = halos[..., :ce], halos[..., ce:]
    queries = _blocks(theta, b)
    if previous is None:
        corr = torch.bmm(queries, keys.transpose(1, 2))
    else:
        corr = torch.baddbmm(previous, queries, keys.transpose(1, 2))
    bias = _mask_bias(h, w, q, b, corr.dtype, str(corr.device))
    weights = torch.softmax(corr.view(n, -1, *corr.shape[1:]) + bias, dim=-1)
    y = torch.bmm(weights.view_as(corr), values)
    return _unblocks(y, n, hp, wp, b)[:, :, :h, :w], corr


class NonLocalModule(nn.Module):
    """theta, phi: 1x1 convolutions to the embedding; g: a 1x1 convolution; the result is added to the input."""

    def __init__(self, width: int, embedding: int, q: int, propagate: bool):
        super().__init__()
        self.q, self.propagate = q, propagate
        self.theta = nn.Conv2d(width, embedding, 1)
        self.phi = nn.Conv2d(width, embedding, 1)
        self.g = nn.Conv2d(width, width, 1)

    def forward(self, x, previous=None):
        y, corr = neighbourhood_attention(self.theta(x), self.phi(x), self.g(x), self.q,
                                          previous if self.propagate else None)
        return x + y, corr


@MODELS.register("nlrn")
class NLRN(Denoiser):
    train_settings = ("width",)

    def __init__(self, frames: int = 1, blind: bool = False, width: int = 128, embedding: int | None = None,
                 states: int = 12, neighbourhood: int = 45, propagate: bool = True, tile: int = 0,
                 domain: str = "linear"):
        super().__init__(frames, blind)
        # Linear by default: in one 300-step run each (rate 1e-3), NLRN scored 33.9 / 30.5 dB low / high in linear
        # light and 33.1 / 29.7 on the gamma-corrected frame; DnCNN is the other way round (models/base.py).
        self.domain = self.check_domain(domain)
        if states < 1 or width < 1:
            raise ValueError(f"nlrn needs states >= 1 and width >= 1; got states={states}, width={width}")
        self.states, self.tile = states, tile
        self.head = nn.Conv2d(self.in_channels, width, 3, padding=1)
        # The recurrent cell: one set of weights, whatever the number of states.
        self.non_local = NonLocalModule(width, embedding or width // 2, neighbourhood, propagate)
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Conv2d(width, 1, 3, padding=1)
        with torch.no_grad():  # start near the identity (a residual of ~0), as the suite's DnCNN does
            self.tail.weight.mul_(0.01)
            self.tail.bias.zero_()

    @property
    def receptive_radius(self) -> int:
        """How far an output pixel sees: head and tail convs, and per state the window and two convs."""
        return 2 + self.states * (self.non_local.q // 2 + 2)

    def noise_estimate(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        state, corr = features, None
        for _ in range(self.states):
            h, corr = self.non_local(F.relu(state), corr)
            state = features + self.conv2(F.relu(self.conv1(F.relu(h))))
        return self.tail(F.relu(state))

    def denoise(self, frames, x):
        h, w = x.shape[-2:]
        estimate = self.noise_estimate
        if self.tile and max(h, w) > self.tile:
            def estimate(y):
                return tiled(self.noise_estimate, y, self.tile, self.receptive_radius)
        return self.subtract_noise(frames, x, estimate, self.domain), {}


def tiled(fn, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """fn over overlapping tiles of x [B, C, H, W] (each core `tile` px, `overlap` px of context on every side
    that fits), keeping each tile's core: with an overlap of fn's receptive radius, the result equals fn(x)."""
    h, w = x.shape[-2:]
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(top + tile + overlap, h), min(left + tile + overlap, w)
            y = fn(x[..., t0:t1, l0:l1])
            if out is None:
                out = y.new_empty(*y.shape[:2], h, w)
            core = y[..., top - t0:top - t0 + min(tile, h - top), left - l0:left - l0 + min(tile, w - left)]
            out[..., top:top + core.shape[-2], left:left + core.shape[-1]] = core
    return out
