"""A training run as a value: what trains, how, at which peak rate, from which start and on which data. The
training stage, rate selection, training on a user's own frames and the studies of runs (tools/budget.py,
tools/settling.py) all build one and hand it to engine.train.train; a study's variant is `run.replace(steps=...,
seed=...)`. Its run key, the hash of the value with the training data's bytes and the training code, is what a
study's former result must match to be read back; a checkpoint must match its resume key, the same hash with the
thread count and the rate selection's settings set aside."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from core.imports import ROOT, import_closure
from core.spec import ModelEntry, Spec, Train, replace
from core.training_data import shard_paths
from degradations import degradation_for
from models.checkpoint import model_spec


@dataclasses.dataclass(frozen=True)
class Run:
    name: str            # the key of its `models` entry
    entry: ModelEntry
    train: Train
    tau: int             # sequences have 2*tau+1 frames
    lr: float            # the peak learning rate
    perturb: int = 0     # k > 0: the start weights nudged with seed k (engine.train.fresh_start); 0: as seeded
    data_folder: Path | None = None  # training shards; None: its degradation's training data

    @classmethod
    def of(cls, spec: Spec, name: str, lr: float, **fields) -> Run:
        return cls(name, spec.models[name], spec.train, spec.data.tau, float(lr), **fields)

    def replace(self, **changes) -> Run:
        """The run with `changes`: its own fields, or training settings (steps, seed, threads, width, ...)."""
        settings = {k: changes.pop(k) for k in list(changes) if k in Train.model_fields}
        return dataclasses.replace(self, train=replace(self.train, **settings) if settings else self.train,
                                   **changes)

    @property
    def model(self) -> dict:
        """The model spec a model file stores: {"arch", "args"}."""
        return model_spec(self.name, self.entry, self.train)

    @property
    def training_data(self) -> Path:
        return self.data_folder or degradation_for(self.entry).train_folder


def run_key(run: Run) -> str:
    """The model, its objective and degradation, every training setting, the peak rate and the nudge of its
    start, the sequence length, the bytes of the training data and the code that trains."""
    e = run.entry
    h = hashlib.sha256(json.dumps([run.model, e.objective, e.objective_args, e.degradation, e.degradation_args,
                                   run.train.model_dump(), run.lr, run.tau, run.perturb], sort_keys=True).encode())
    for path in shard_paths(run.training_data):
        h.update(str(path.relative_to(run.training_data)).encode())
        h.update(path.read_bytes())
    for path in import_closure("engine.train"):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# Settings a run may change between its steps and still be resumed: the rung's winner continues on more threads;
# batches made ahead are the loop's own (engine/batches.py).
RESUMABLE_ACROSS = {"threads": 0, "rate_workers": 1, "rung": 1.0, "loader_workers": 0}


def resume_key(run: Run) -> str:
    """The key a checkpoint carries: the run key with the settings of RESUMABLE_ACROSS set aside (a study's
    result keeps the full run key: there the thread count is part of what was measured)."""
    return run_key(run.replace(**RESUMABLE_ACROSS))

