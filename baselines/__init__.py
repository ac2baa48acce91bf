"""Classical denoisers behind one call:

    method(frames, sigma_s, sigma_r, strength=1.0) -> frame

frames [T, H, W] noisy linear intensities (reference frame in the middle), the test level's noise parameters
(the classical methods are non-blind, as in the paper's tables), a tuned strength multiplier; the result is the
denoised reference frame [H, W] in linear intensities.
"""
from baselines.classical import BASELINES, run_baseline

__all__ = ["BASELINES", "run_baseline"]
