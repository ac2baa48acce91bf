"""Degradations: what turns clean linear frames into a restorer's input (after deepinv's physics).
Importing the package registers every degradation."""
from core.registry import DEGRADATIONS
from degradations import raw_noise  # noqa: F401  (registration side effect)
from degradations.base import Degradation

__all__ = ["DEGRADATIONS", "Degradation"]
