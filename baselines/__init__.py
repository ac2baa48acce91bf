"""Classical restorers behind one call:

    method(frames, level, strength=1.0) -> frame

frames [T, H, W] degraded linear intensities (reference frame in the middle); level: the parameters of the test
level as the degradation names them (raw noise: sigma_s, sigma_r; the classical methods are non-blind, as in the
paper's tables); strength: a multiplier tuned on the validation split. The result is the restored reference
frame [H, W] in linear intensities. Importing the package registers every method.
"""
from core.registry import BASELINES, import_all

import_all(__name__, __file__)
from baselines.classical import run_baseline  # noqa: E402

__all__ = ["BASELINES", "run_baseline"]
