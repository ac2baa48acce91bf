"""Degradations: what turns clean linear frames into a restorer's input (after deepinv's physics).
Importing the package registers every degradation."""
from core.registry import DEGRADATIONS
from degradations import blur, gauss, observed, raw_noise  # noqa: F401  (registration side effect)
from degradations.base import Degradation



def degradation_for(entry: dict) -> Degradation:
    """The degradation of a `models` entry: `degradation` (raw_noise unless named) with its `degradation_args`."""
    return DEGRADATIONS.build(entry.get("degradation", "raw_noise"), **(entry.get("degradation_args") or {}))


__all__ = ["DEGRADATIONS", "Degradation", "degradation_for"]
