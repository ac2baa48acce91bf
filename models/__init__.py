"""PyTorch denoisers, registered by name. Importing the package registers every model."""
from core.registry import MODELS
from models import (blindspot, deformable, direct, dncnn, kpn, nlrn, svrnn,  # noqa: F401  (registration)
                    unet_denoiser)


def build(arch: str, **kwargs):
    """Build a registered model; an unknown name lists the known ones."""
    return MODELS.build(arch, **kwargs)


__all__ = ["MODELS", "build"]
