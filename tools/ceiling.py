"""How much faster could a training step get? `python -m tools.ceiling [model ...]` (default: the four models of
`python -m tools.benchmark train`), one thread, params' train.precision and train.channels_last, each model in
a fresh process.

For each model it prints the step's time before (as `tools.benchmark train` measures it) and now, the time of
the step's convolutions, each timed alone (forward and backward, at the shapes, precision and layout the step
gives it), their rate in GFLOP/s against the core's rate on a 2048 x 2048 matrix product in the same precision,
and the floor: the step with every convolution at that rate and the rest as it is. The floor's ratio to the
step before is the most that faster convolutions alone can give (`tools.benchmark train`'s target is 2.5x).
"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from core.spec import load_spec
from engine.train import fitting_step
from tools.benchmark import ROOT, _step_seconds, in_fresh_process, median_seconds

MODELS = ("d2d", "d3d", "kpn5_video", "dncnn")


def matmul_rate(dtype: torch.dtype, n: int = 2048) -> float:
    """GFLOP/s of one n x n matrix product in `dtype` on this thread: what the core's matrix units give."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n ** 3 / median_seconds(lambda: a @ b, 5) / 1e9


@dataclass(frozen=True)
class ConvCall:
    """One convolution of a step as the step calls it: the module's settings and its input."""
    module: nn.Conv2d
    shape: tuple
    dtype: torch.dtype
    channels_last: bool
    input_grad: bool
    autocast: bool

    def flops(self) -> float:
        """Multiply-adds x 2 forward, and again for the weights' gradient and (when the input needs one) the
        input's: tools.gpu_check's count (torch's, a grouped convolution's mended), on the meta device."""
        from tools.gpu_check import flop_counter

        m = copy.deepcopy(self.module).to("meta")
        x = torch.empty(self.shape, device="meta", requires_grad=self.input_grad)
        with flop_counter() as counter:
            y = m(x)
            y.backward(torch.empty_like(y))
        return float(counter.get_total_flops())

    def seconds(self, runs: int = 15) -> float:
        """Forward and backward of this convolution alone (a copy of the module, so the model is untouched)."""
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        m = copy.deepcopy(self.module).to(memory_format=layout)
        x = torch.randn(self.shape, dtype=self.dtype).contiguous(memory_format=layout)
        x.requires_grad_(self.input_grad)

        def forward():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.autocast):
                return m(x)
        grad = torch.ones_like(forward().detach())

        def step():
            m.zero_grad(set_to_none=True)
            forward().backward(grad)
        return median_seconds(step, runs)


def conv_calls(model, opt, objective, batch, steps: int) -> list[ConvCall]:
    """Every convolution one training step calls, in order, with its input as it arrives."""
    calls = []

    def record(module, inputs):
        x = inputs[0]
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        calls.append(ConvCall(module, tuple(x.shape), x.dtype, channels_last, x.requires_grad,
                              torch.is_autocast_enabled("cpu")))
    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        fitting_step(model, opt, objective, batch, 0, steps, 1)
    finally:
        for h in hooks:
            h.remove()
    return calls


def _measure(name: str, queue) -> None:
    """This fresh process's figures for model `name`: the step's seconds now, its convolutions' seconds (each
    distinct call timed once, counted as often as the step calls it), their FLOPs and the matrix rate."""
    from models.compute import resolve, reuse_freed_memory
    from tools.gpu_check import setup

    torch.set_num_threads(1)
    reuse_freed_memory()
    spec = load_spec(ROOT / "params.yaml")
    precision = resolve(spec.train.precision, "cpu")
    model, opt, objective, batch = setup(spec, name, torch.device("cpu"), precision, spec.train.batch,
                                         channels_last=spec.train.channels_last)
    calls = conv_calls(model, opt, objective, batch, spec.train.steps)
    step = median_seconds(lambda: fitting_step(model, opt, objective, batch, 1, spec.train.steps, 1), 9)
    timed = {c: c.seconds() for c in dict.fromkeys(calls)}  # a call the step makes twice is timed once
    convs = sum(timed[c] for c in calls)
    rate = matmul_rate(torch.bfloat16 if precision == "bf16" else torch.float32)
    queue.put((precision, step, convs, sum(c.flops() for c in calls), rate, len(calls)))


def main(names=MODELS) -> None:
    known = load_spec(ROOT / "params.yaml").models
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"tools.ceiling: no model {', '.join(unknown)} in params.yaml's models; name one of "
                         f"{', '.join(known)}")
    print("one thread; the convolutions each timed alone, forward and backward, at the step's shapes; the floor: "
          "the step with every convolution at the matrix product's rate")
    print(f"{'model':<12}{'before ms':>10}{'now ms':>8}{'convs ms':>10}{'GFLOP/s':>9}{'matmul':>8}"
          f"{'floor ms':>10}{'now x':>7}{'floor x':>9}")
    for name in names:
        before = float(np.median([in_fresh_process(_step_seconds, name, False) for _ in range(3)]))
        precision, step, convs, flops, rate, n = in_fresh_process(_measure, name)
        floor = step - convs + flops / (rate * 1e9)
        print(f"{name:<12}{before * 1e3:>10.1f}{step * 1e3:>8.1f}{convs * 1e3:>10.1f}{flops / convs / 1e9:>9.0f}"
              f"{rate:>8.0f}{floor * 1e3:>10.1f}{before / step:>7.2f}{before / floor:>9.2f}  ({precision}, {n} convs)",
              flush=True)


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or MODELS)
