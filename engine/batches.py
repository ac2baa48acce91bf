"""The batches of the training steps: made by the loop itself, or ahead of it by worker processes
(`train.loader_workers`). A step's batch is drawn from the seed and the step's number alone, so a batch made
ahead, in another process, is the one the loop would make: the choice changes time, never bytes.

On a GPU the step waits for a batch made on the host (a 5-frame batch of 32 crops takes longer than a Deformable
3D step on an H200: README); workers make the next ones meanwhile, in pinned memory, which the step copies
without waiting. On the CPU the step has every core already: auto makes none there.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from core.config import InputError
from core.spec import Train
from core.training_data import TrainingSequences

AUTO_WORKERS_CUDA = 4
AUTO_MIN_STEPS = 1000  # a worker starts in seconds (it imports torch): a shorter run does not repay it


def step_batch(data: TrainingSequences, objective, cfg: Train, step: int, frames: int, degradation,
               parts: range = range(1), total: int = 1) -> dict:
    """The batch of a step on the host: the degradation's draws, then the objective's (objectives/base.py). Drawn
    in `total` parts of independent streams (train.batch_parts; one part: the step's own stream), of which this
    makes `parts`, concatenated. The step's random stream is spent once the draws are made: the loss has no use
    for it."""
    made = []
    for part in parts:
        batch = data.batch(cfg.seed, step, cfg.batch // total, cfg.crop, frames, degradation,
                           None if total == 1 else part)
        batch |= objective.draw(batch)
        del batch["generator"]
        made.append(batch)
    return made[0] if len(made) == 1 else concatenated(made)


def concatenated(batches: list[dict]) -> dict:
    """Batches joined along their first axis (tensors; dicts entry by entry; None stays None)."""
    first = batches[0]
    if isinstance(first, dict):
        return {k: concatenated([b[k] for b in batches]) for k in first}
    return None if first is None else torch.cat(batches)


def batch_parts(setting: int | str, world: int, batch: int) -> int:
    """The streams a step's batch is drawn in (train.batch_parts; auto: one per process), refused in one line
    where the processes or the batch do not split over them."""
    parts = world if setting == "auto" else setting
    if parts % world or batch % parts:
        raise InputError(f"train.batch_parts={parts} must be a multiple of the {world} process(es) and divide "
                         f"train.batch={batch}; set train.batch_parts: auto or change the batch")
    return parts


class StepBatches(Dataset):
    """The host batch of each step, by the step's number: the parts `parts` of `total` (step_batch)."""

    def __init__(self, data: TrainingSequences, objective, cfg: Train, frames: int, degradation,
                 parts: range = range(1), total: int = 1):
        self.data, self.objective, self.cfg, self.frames, self.degradation = data, objective, cfg, frames, degradation
        self.parts, self.total = parts, total

    def __len__(self) -> int:
        return self.cfg.steps

    def __getitem__(self, step: int) -> dict:
        return step_batch(self.data, self.objective, self.cfg, step, self.frames, self.degradation, self.parts,
                          self.total)


def worker_count(setting: int | str, on: torch.device, frames: int, steps: int) -> int:
    """The processes of `train.loader_workers` for a run of `steps` steps on `on` of crops of `frames` frames. Auto:
    AUTO_WORKERS_CUDA on CUDA for a video model's run of AUTO_MIN_STEPS steps or more, else none; on an H200 they
    repaid a video batch only (the figures: README, "The paper profile")."""
    if setting == "auto":
        return AUTO_WORKERS_CUDA if on.type == "cuda" and frames > 1 and steps >= AUTO_MIN_STEPS else 0
    return setting


def process_context():
    """A fork server where the platform has one (a plain fork of a process with torch's threads is unsafe),
    else spawn (Windows)."""
    return multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                       else "spawn")


def step_batches(batches: StepBatches, first: int, last: int, workers: int, pin: bool) -> Iterator[dict]:
    """The batches of steps first ... last - 1, in order: made here one by one (workers 0), or by `workers`
    processes ahead of the loop, two each, in pinned memory when `pin`."""
    if not workers:
        return (batches[step] for step in range(first, last))
    return iter(DataLoader(batches, batch_size=None, sampler=range(first, last), num_workers=workers,
                           pin_memory=pin, prefetch_factor=2, multiprocessing_context=process_context()))
