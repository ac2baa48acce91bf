"""Training objectives: the step from a batch to a loss, one registered class per regime (after BasicSR's
`optimize_parameters` and deepinv's `Loss`). Importing the package registers every objective."""
from core.registry import OBJECTIVES
from objectives import supervised  # noqa: F401  (registration side effect)
from objectives.base import Objective

__all__ = ["OBJECTIVES", "Objective"]
