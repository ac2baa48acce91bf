"""Degradations: what turns clean linear frames into a restorer's input (after deepinv's physics).
Importing the package registers every degradation."""
from core.registry import DEGRADATIONS, import_all
from core.spec import ModelEntry

import_all(__name__, __file__)
from degradations.base import Degradation  # noqa: E402


def degradation_for(entry: ModelEntry) -> Degradation:
    """The degradation of a `models` entry, with its `degradation_args`."""
    return DEGRADATIONS.build(entry.degradation, **entry.degradation_args)


__all__ = ["DEGRADATIONS", "Degradation", "degradation_for"]
