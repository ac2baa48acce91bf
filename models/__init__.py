"""PyTorch denoisers, registered by name. Importing the package registers every model."""
from models import deformable, direct, dncnn, kpn  # noqa: F401  (registration side effect)
from models.registry import MODELS, build

__all__ = ["MODELS", "build"]
