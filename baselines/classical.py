"""Reference frame, direct average, NLM (image and multi-frame), BM3D and BM4D (the stand-in for VBM4D, which
has no Python package). Every method but the first two denoises in the variance-stabilised domain of the level
(baselines/vst.py: GAT for raw noise, sRGB for Gaussian noise) with sigma = strength."""
from __future__ import annotations

import bm3d
import bm4d
import cv2
import numpy as np
from skimage import restoration
from skimage.restoration import denoise_nl_means

from baselines.vst import stabiliser
from core.registry import BASELINES

baseline = BASELINES.register


def _one_thread(profile):
    """BM3D/BM4D's library threads its aggregation when num_threads is 0 (its default), and the float sums then
    differ between runs in the 6th digit; the stage already spreads sequences over the cores, so one thread a
    sequence costs nothing and makes reruns byte-identical."""
    profile.num_threads = 1
    return profile


def _ref(frames: np.ndarray) -> np.ndarray:
    return frames[frames.shape[0] // 2]


@baseline("reference_frame")
def reference_frame(frames, level, strength=1.0):
    return _ref(frames).astype(np.float64)


@baseline("direct_average")
def direct_average(frames, level, strength=1.0):
    return frames.astype(np.float64).mean(0)


@baseline("nlm")
def nlm(frames, level, strength=1.0):
    """skimage's non-local means on the reference frame, in float, h = strength x sigma."""
    vst = stabiliser(level)
    d = vst.forward(_ref(frames).astype(np.float64))
    return vst.inverse(denoise_nl_means(d, h=strength, sigma=1.0, patch_size=5, patch_distance=6, fast_mode=True))


@baseline("nlm_video")
def nlm_video(frames, level, strength=1.0):
    """OpenCV's multi-frame NLM over all frames; it takes 8 bits, so the GAT domain is scaled to [0, 255]."""
    vst = stabiliser(level)
    scale = 255.0 / vst.peak
    d = vst.forward(frames.astype(np.float64)) * scale
    imgs = [np.clip(f + 0.5, 0, 255).astype(np.uint8) for f in d]
    t = len(imgs)
    out = cv2.fastNlMeansDenoisingMulti(imgs, t // 2, t, None, float(strength * scale), 5, 11)
    return vst.inverse(out.astype(np.float64) / scale)


@baseline("bm3d")
def bm3d_image(frames, level, strength=1.0):
    vst = stabiliser(level)
    d = vst.forward(_ref(frames).astype(np.float64))
    return vst.inverse(bm3d.bm3d(d, sigma_psd=strength, profile=_one_thread(bm3d.BM3DProfile())))


@baseline("bm4d")
def bm4d_volume(frames, level, strength=1.0):
    """BM4D on the spatio-temporal volume [H, W, T]; the reference frame's slice is the result."""
    vst = stabiliser(level)
    d = vst.forward(frames.astype(np.float64))
    out = bm4d.bm4d(np.moveaxis(d, 0, -1), sigma_psd=strength, profile=_one_thread(bm4d.BM4DProfile()))
    return vst.inverse(out[..., frames.shape[0] // 2])


@baseline("richardson_lucy")
def richardson_lucy(frames, level, strength=1.0):
    """Richardson-Lucy deconvolution in linear light (where the blur is a convolution) with the window's oracle
    kernel `level["psf"]` (study deblur: measured on the sharp frames); strength x 20 iterations."""
    if "psf" not in level:
        raise ValueError("richardson_lucy needs the blur kernel of each sequence (a blur test set's psf_test)")
    psf = np.asarray(level["psf"], np.float64)
    pad = max(psf.shape)  # mirrored borders: zero padding would darken the frame's edges and ring inwards
    blurry = np.pad(np.clip(_ref(frames).astype(np.float64), 0.0, None), pad, mode="reflect")
    out = restoration.richardson_lucy(blurry, psf, num_iter=max(1, round(20 * strength)), clip=False)
    return out[pad:-pad, pad:-pad]


def bm3d_colour(frames, level, strength=1.0):
    """CBM3D (bm3d.bm3d_rgb): BM3D on an opponent colour transform of the reference frame, blocks matched on its
    luminance; each channel is stabilised on its own (its noise is its own), sigma = strength in every channel."""
    vst = stabiliser(level)
    d = np.moveaxis(vst.forward(_ref(frames).astype(np.float64)), 0, -1)
    out = bm3d.bm3d_rgb(d, sigma_psd=strength, profile=_one_thread(bm3d.BM3DProfile()), colorspace="opp")
    return vst.inverse(np.moveaxis(out, -1, 0))


# A method's own colour form, where its package has one; every other method restores colour channel by channel.
COLOUR_FORMS = {"bm3d": bm3d_colour}


def run_baseline(name: str, frames: np.ndarray, level: dict, strength: float = 1.0,
                 colour: bool = False) -> np.ndarray:
    """A registered method on grey frames [T, H, W] -> [H, W], or with `colour` on colour frames [T, 3, H, W] ->
    [3, H, W] (Appendix B restores R, G and B separately; BM3D's package has a colour form, CBM3D, which is used)."""
    if not colour:
        return BASELINES.get(name)(frames, level, strength)
    if name in COLOUR_FORMS:
        return COLOUR_FORMS[name](frames, level, strength)
    return np.stack([BASELINES.get(name)(frames[:, c], level, strength) for c in range(frames.shape[1])])
