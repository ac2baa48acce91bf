"""Training objectives: the step from a batch to a loss, one registered class per regime (after BasicSR's
`optimize_parameters` and deepinv's `Loss`). Importing the package registers every objective."""
from core.registry import OBJECTIVES, import_all
from core.spec import ModelEntry, Train

import_all(__name__, __file__)
from objectives.base import Objective  # noqa: E402


def objective_for(entry: ModelEntry, train: Train, degradation=None) -> Objective:
    """The objective of a `models` entry, with its `objective_args`."""
    return OBJECTIVES.build(entry.objective, train=train, degradation=degradation, **entry.objective_args)


__all__ = ["OBJECTIVES", "Objective", "objective_for"]
