"""Degradations: what turns clean linear frames into a restorer's input (after deepinv's physics).
Importing the package registers every degradation."""
from core.registry import DEGRADATIONS
from core.spec import ModelEntry
from degradations import blur, gauss, observed, raw_noise  # noqa: F401  (registration side effect)
from degradations.base import Degradation

def degradation_for(entry: ModelEntry) -> Degradation:
    """The degradation of a `models` entry, with its `degradation_args`."""
    return DEGRADATIONS.build(entry.degradation, **entry.degradation_args)


__all__ = ["DEGRADATIONS", "Degradation", "degradation_for"]
