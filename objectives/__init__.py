"""Training objectives: the step from a batch to a loss, one registered class per regime (after BasicSR's
`optimize_parameters` and deepinv's `Loss`). Importing the package registers every objective."""
from core.registry import OBJECTIVES
from objectives import self_supervised, supervised  # noqa: F401  (registration side effect)
from objectives.base import Objective


def objective_for(entry: dict, train: dict, degradation=None) -> Objective:
    """The objective of a `models` entry: `objective` (supervised unless named) with its `objective_args`."""
    return OBJECTIVES.build(entry.get("objective", "supervised"), train=train, degradation=degradation,
                            **(entry.get("objective_args") or {}))


__all__ = ["OBJECTIVES", "Objective", "objective_for"]
