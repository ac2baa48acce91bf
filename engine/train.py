"""The training loop: one model of the `models` dict of params, trained with its objective on its degradation.

Adam with a linear warm-up to the peak learning rate, then the paper's linear decay to half the peak
(`train.schedule: linear`, the default) or a cosine decay to zero (`cosine`); the objective (supervised,
annealed, ...) turns a batch into a loss; the degradation draws the training inputs on the fly. The model saved
is the moving average of the weights (`train.ema`), its batch-norm statistics measured anew at those weights
(`train.bn_batches`): at a few hundred steps the last step's weights still move with the rate, and seeds and
thread counts then land them far apart. Writes <out>/model.pt (spec and weights only) and dvclive
curves and summary; a checkpoint every train.checkpoint_every steps lets an interrupted run resume to the same
weights, and only the very same run (params, peak rate, training data, code) resumes. Several GPUs or nodes:
`torchrun --nproc_per_node N -m pipeline.train <model>` (rank 0 writes).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from core.config import InputError, atomic_write
from core.spec import Train
from core.training_data import TrainingSequences
from degradations import degradation_for
from engine.batches import StepBatches, batch_parts, step_batch, step_batches, worker_count
from engine.run import Run, resume_key
from models.checkpoint import load_state, save_model, seeded_model
from models.compute import configure, device
from objectives import objective_for


class Diverged(InputError):
    """The loss became non-finite or ended far above where it started: a failed run, never a model."""


PERTURBATION = 1e-6  # relative size of a nudged start (float32 rounds at 6e-8 of a value)
DIVERGED = 10.0  # a final loss this many times the untrained model's is a failed run, not a result
MIN_STEPS_TO_JUDGE = 10  # below this, one noisy batch at the end is not a trend


def learning_rate(step: int, steps: int, peak: float, warmup: float = 0.1, schedule: str = "cosine") -> float:
    """Linear warm-up over the first `warmup` share of the steps, then cosine decay to zero ("cosine"), or the
    paper's linear decay from the peak to half of it ("linear"). The warm-up keeps Adam's first steps, whose
    second-moment estimate is still poor, from throwing a kernel head far from its box-filter start."""
    warm = int(round(warmup * steps))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(steps - warm, 1)
    if schedule == "linear":
        return peak * (1 - 0.5 * t)
    return peak * 0.5 * (1 + math.cos(math.pi * t))


def ema_decay(share: float, steps: int) -> float:
    """The decay of a moving average spanning about `share` of a run of `steps` steps: 1 - 1 / (share x steps), so
    that the start's weight, (decay)^steps ~ e^(-1 / share), is negligible in a short run as in a long one; 0 (no
    average) when the span is under one step."""
    span = share * steps
    return 1 - 1 / span if span > 1 else 0.0


def thread_count(setting: int) -> int:
    """train.threads, or with 0 the cores this process may use, never more than OMP_NUM_THREADS when it is set:
    on a shared machine, torch with more threads than free cores runs several times slower."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return setting or cores


class Distributed:
    """Rank and world size from torchrun's environment; a plain run is rank 0 of 1. Each process computes on
    the device of `train.device` (on CUDA, the card of its local rank)."""

    def __init__(self, setting: str = "auto"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{local}") if device(setting).type == "cuda" else torch.device("cpu")
        if self.world > 1:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def wrap(self, model):
        if self.world == 1:
            return model
        if self.device.type != "cuda":
            return torch.nn.parallel.DistributedDataParallel(model)
        # Batch norm over the whole batch, not each card's slice (its layers are replaced in place, weights
        # and statistics kept; SyncBatchNorm has no CPU kernel, so a gloo run normalises each slice alone).
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[self.device.index])

    def my_parts(self, total: int) -> range:
        """This process's parts of the `total` a batch is drawn in (engine.batches.batch_parts)."""
        per = total // self.world
        return range(self.rank * per, (self.rank + 1) * per)

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def on_device(batch: dict, mine: slice, device) -> dict:
    """This rank's slice of the batch's tensors, on its device (copied without waiting from pinned memory)."""
    def move(v):
        if isinstance(v, dict):
            return {k: move(x) for k, x in v.items()}
        return v[mine].to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
    return {k: move(v) for k, v in batch.items()}


def backward(net, objective, batch: dict, step: int, steps: int, slices: int = 1) -> torch.Tensor:
    """The batch's loss, backpropagated in `slices` equal slices of it (each slice's loss weighted by its share,
    gradients summed: the whole batch's mean loss where the loss is a mean over samples; batch norm sees each
    slice alone). Returns the loss, detached, on the device."""
    if slices == 1:
        loss = objective.loss(net, batch, step, steps)
        loss.backward()
        return loss.detach()
    per = len(batch["clean"]) // slices
    total = 0.0
    for k in range(slices):
        part = on_device(batch, slice(k * per, (k + 1) * per), batch["clean"].device)
        # Under DDP the gradients are averaged over processes once, at the last slice.
        quiet = net.no_sync() if k < slices - 1 and hasattr(net, "no_sync") else contextlib.nullcontext()
        with quiet:
            loss = objective.loss(net, part, step, steps) / slices
            loss.backward()
        total = total + loss.detach()
    return total


def fitting_step(net, optimiser, objective, batch: dict, step: int, steps: int, slices: int,
                 alone: bool = True) -> tuple[torch.Tensor, int]:
    """One optimiser step and the slices it took: on a CUDA out-of-memory error the step is taken again with the
    batch in the next larger number of slices that divides it (`backward`), so a profile sized for one card runs
    on a smaller one. Under torchrun (alone False) the processes would disagree on the slices: no retry."""
    size = len(batch["clean"])
    optimiser.zero_grad(set_to_none=True)
    while True:
        try:
            loss = backward(net, objective, batch, step, steps, slices)
            break
        except torch.OutOfMemoryError:
            more = next((k for k in range(slices + 1, size + 1) if size % k == 0), None)
            if more is None or not alone:
                fix = "lower train.crop" if alone else "lower train.batch or train.crop, or run on more processes"
                raise InputError(f"a training step of {size} crops does not fit the device's memory "
                                 f"({slices} slice(s)); {fix}") from None
        optimiser.zero_grad(set_to_none=True)  # outside the handler: its traceback held the step's tensors
        torch.cuda.empty_cache()
        slices = more
    optimiser.step()
    return loss, slices


def fresh_start(spec: dict, cfg: Train, lr: float, device="cpu", perturb: int = 0):
    """A run's start: the seeded weights (with perturb k > 0, each times 1 + PERTURBATION x N(0, 1) drawn with seed
    k: the kind of change a thread count or another CPU's float arithmetic makes), Adam at the peak rate, and the
    moving average of the weights that is the model saved, over about train.ema of the run (None if 0: the last
    step's weights; docs/recipe.md)."""
    model = seeded_model(spec, cfg.seed, device)
    if perturb:
        noise = torch.Generator().manual_seed(perturb)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1 + PERTURBATION * torch.randn(p.shape, generator=noise).to(device))
    decay = ema_decay(cfg.ema, cfg.steps)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay)) if decay else None
    return model, torch.optim.Adam(model.parameters(), lr=lr), ema


class Training:
    """One run's state on this process (after BasicSR's model classes): the model, Adam, the moving average, the
    data and objective, where it stands (step, loss history) and where it logs. train() is its steps in order."""

    def __init__(self, run: Run, checkpoint: Path, out_dir: Path):
        self.run, self.cfg, self.checkpoint, self.out_dir = run, run.train, checkpoint, out_dir
        self.dist = Distributed(self.cfg.device)
        configure(self.dist.device, self.cfg.deterministic)
        self.main = self.dist.rank == 0
        self.model, self.optimiser, self.ema = fresh_start(run.model, self.cfg, run.lr, self.dist.device,
                                                           run.perturb)
        self.degradation = degradation_for(run.entry)
        self.objective = objective_for(run.entry, self.cfg, self.degradation)
        # The clean frames of a training pair: the model's own (a window of the scenes), or the degradation's.
        length = self.degradation.window or 2 * run.tau + 1
        self.frames = self.degradation.window or self.model.frames
        self.data = TrainingSequences(run.training_data, length, self.cfg.crop)
        # Each process draws only its own parts of the batch; a run drawn in other parts is another run.
        self.parts = batch_parts(self.cfg.batch_parts, self.dist.world, self.cfg.batch)
        self.batches = StepBatches(self.data, self.objective, self.cfg, self.frames, self.degradation,
                                   self.dist.my_parts(self.parts), self.parts)
        self.key = resume_key(run) + ("" if self.parts == 1 else f"/{self.parts} parts")
        self.start, self.history, self.live = 0, [], None
        self.slices = 1  # the batch's slices per step: more only where a step does not fit the device

    def resume(self, until: int | None = None) -> None:
        """Continue from the checkpoint when it is of this very run (its run key) and not past step `until`
        (a rung's snapshot must be of the rung); else start afresh."""
        if not self.checkpoint.is_file():
            return
        state = load_state(self.checkpoint, self.dist.device)
        if state["hash"] != self.key or (until is not None and state["step"] > until):
            return
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.start, self.history = state["step"], state["history"]

    def open_log(self) -> None:
        from dvclive import Live

        self.live = Live(str(self.out_dir / "live"), dvcyaml=False, save_dvc_exp=False)
        for s, loss in self.history:  # a resumed run replays the curve it already has
            self.live.step = s
            self.live.log_metric("train/loss", loss)

    def step(self, net, step: int, batch: dict) -> torch.Tensor:
        """One optimiser step on the step's host batch; its loss, left on the device (read back by `record`, not
        every step: on a GPU a read is a wait)."""
        cfg, steps = self.cfg, self.cfg.steps
        for group in self.optimiser.param_groups:
            group["lr"] = learning_rate(step, steps, self.run.lr, cfg.warmup, cfg.schedule)
        mine = on_device(batch, slice(None), self.dist.device)
        loss, self.slices = fitting_step(net, self.optimiser, self.objective, mine, step, steps, self.slices,
                                         alone=self.dist.world == 1)
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss

    def record(self, first: int, losses: list[torch.Tensor]) -> None:
        """The losses of steps first, first + 1, ... read back in one transfer and logged; Diverged at the first
        that is not finite (the checkpoint before it is kept: no checkpoint is written after a bad step)."""
        values = torch.stack(losses).float().cpu().tolist() if losses else []
        for k, value in enumerate(values):
            if not math.isfinite(value):
                saved = state_step(self.checkpoint)
                raise Diverged(f"the loss of {self.run.name} became {value} at step {first + k}; the last good "
                               f"checkpoint {self.checkpoint} ({'none yet' if saved is None else f'step {saved}'}) "
                               "is kept; lower train.lr and rerun")
            if self.main:
                self.history.append((first + k, value))
                self.live.step = first + k
                self.live.log_metric("train/loss", value)

    def save_checkpoint(self, done: int) -> None:
        save_checkpoint(self.checkpoint, {"hash": self.key, "step": done, "model": self.model.state_dict(),
                                          "optimiser": self.optimiser.state_dict(), "history": self.history,
                                          "ema": None if self.ema is None else self.ema.state_dict()})

    def settle(self) -> None:
        """The weights saved: the moving average, its batch-norm statistics measured anew."""
        if self.ema is not None:
            with torch.no_grad():
                for p, q in zip(self.model.parameters(), self.ema.module.parameters()):
                    p.copy_(q)
        settle_batch_norm(self.model, self.objective, self.data, self.cfg, self.frames, self.degradation,
                          self.cfg.steps, self.dist.device, self.parts)

    def finish(self, seconds: float, threads: int) -> dict:
        """The summary; the model file, unless the loss rose far above its start (Diverged)."""
        steps, first = self.cfg.steps, self.history[0][1]  # the untrained model's loss
        tail = [loss for _, loss in self.history[-max(1, steps // 10):]]
        summary = {"final_loss": sum(tail) / len(tail), "steps": steps, "lr": self.run.lr,
                   "parameters": self.model.parameter_count(), "seconds": round(seconds, 1), "threads": threads}
        # A likelihood loss (HQ-SSL) can be negative: judge the rise against the size of the first loss.
        if steps >= MIN_STEPS_TO_JUDGE and summary["final_loss"] > first + (DIVERGED - 1) * abs(first):
            raise Diverged(f"training {self.run.name} diverged: its loss rose from {first:.4g} to "
                           f"{summary['final_loss']:.4g}; no model is written; lower train.lr and rerun")
        self.live.summary = summary
        self.live.end()
        save_model(self.out_dir / "model.pt", self.run.model, self.model)
        self.checkpoint.unlink(missing_ok=True)  # a finished run is the model file; a rerun starts afresh
        return summary


def train(run: Run, out_dir: Path, checkpoint: Path, stop_after: int | None = None,
          snapshot: Path | None = None) -> dict:
    """Train one run, resuming its checkpoint; returns the summary. stop_after=k stops after k steps (as an
    interruption would); with `snapshot` too, a rung of the rate grid (engine/select.py): a checkpoint at step k
    and the model as it would be saved there, written to `snapshot`."""
    threads = thread_count(run.train.threads)
    torch.set_num_threads(threads)
    t = Training(run, checkpoint, out_dir)
    t.resume(until=stop_after)
    t.objective.check(t.model)
    net, steps = t.dist.wrap(t.model), t.cfg.steps
    if t.main:
        t.open_log()
    last = min(steps, steps if stop_after is None else stop_after)
    bar = tqdm(range(t.start, last), initial=t.start, total=steps, desc=f"train {run.name}", disable=not t.main)
    began, pending = time.perf_counter(), []
    t.model.train()
    workers = worker_count(t.cfg.loader_workers, t.dist.device, t.frames, steps)
    batches = step_batches(t.batches, t.start, last, workers, pin=t.dist.device.type == "cuda")
    for step, batch in zip(bar, batches):
        pending.append(t.step(net, step, batch))
        if (step + 1) % t.cfg.checkpoint_every == 0 or step + 1 == last:
            t.record(step + 1 - len(pending), pending)
            pending = []
            bar.set_postfix(loss=f"{t.history[-1][1]:.4f}" if t.history else "-")
            if t.main and ((step + 1) % t.cfg.checkpoint_every == 0 or step + 1 == steps):
                t.save_checkpoint(step + 1)
    finished = stop_after is None or stop_after >= steps
    rung = not finished and snapshot is not None
    if rung and t.main and stop_after > t.start and stop_after % t.cfg.checkpoint_every:  # (else saved above)
        t.save_checkpoint(stop_after)
    if finished or rung:
        t.settle()
    seconds = time.perf_counter() - began
    summary = t.finish(seconds, threads) if t.main and finished else {}
    if t.main and not finished:
        summary = {"steps": stop_after, "seconds": round(seconds, 1), "threads": threads}
        if rung:
            save_model(snapshot, run.model, t.model)
    t.dist.close()
    return summary


@torch.no_grad()
def settle_batch_norm(net, objective, data, cfg: Train, frames: int, degradation, steps: int, device,
                      parts: int = 1) -> int:
    """Batch norm's statistics measured anew at the final weights, over train.bn_batches fresh training batches
    (an equal-weight mean: momentum None), before the model is saved; returns the batches used (0: no batch
    norm). Why: the running means of training mix statistics of the last tens of steps' weights, which at our
    rates still move, and the noise level drawn per crop makes batch statistics vary widely (DnCNN fell below
    its noisy input with them: docs/recipe.md). Every process measures the whole batches, in their `parts`
    (train.batch_parts), so that all hold the same statistics. The idea of fvcore's PreciseBN
    (torch.optim.swa_utils.update_bn does it too, but gives the model one input, not frames and a noise map)."""
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    n = cfg.bn_batches if norms else 0
    if not n:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for k in range(n):  # batches the run never trained on: steps after its last
        batch = step_batch(data, objective, cfg, steps + k, frames, degradation, range(parts), parts)
        objective.loss(net, on_device(batch, slice(None), device), steps, steps)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return n


def state_step(path: Path) -> int | None:
    return load_state(path)["step"] if path.is_file() else None

