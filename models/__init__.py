"""PyTorch denoisers, registered by name. Importing the package registers every model."""
from core.registry import MODELS, import_all

import_all(__name__, __file__)


def build(arch: str, **kwargs):
    """Build a registered model; an unknown name lists the known ones."""
    return MODELS.build(arch, **kwargs)


__all__ = ["MODELS", "build"]
