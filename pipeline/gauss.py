"""Stage `gauss`: the test sets of study gauss (NLRN's protocol: Gaussian noise on grey sRGB images).

Clean images (data/gauss/clean.npz, frames [n, 1, S, S] in linear light, S = scenes.test_crop): subset 1, crops
of the `gauss.photographs` (skimage.data photographs that no training video uses: each is made grey in linear
light, shrunk so that its short side is at most two crops, and cut into the centred crops that fit, at most four);
subset 2, the reference frames of the suite's test sequences. One noisy file per level (data/gauss/noisy/s15.npz, ...)
holds the noisy test images and the noisy validation sequences (the classical methods' tuning split), seeded.
"""
from __future__ import annotations


import cv2
import numpy as np
import skimage.data

from core.config import InputError, stage_main
from core.frames import load_shard, save_shard, to_grey_linear
from core.paths import GAUSS, SCENES_TEST, SCENES_VAL
from core.test_sets import make_test_sets
from core.spec import load_spec
from degradations.gauss import Gauss

OUT = GAUSS


def load_photograph(name: str) -> np.ndarray:
    """An skimage.data photograph as uint8 RGB [H, W, 3] (a stereo pair gives its left view)."""
    loader = getattr(skimage.data, name, None)
    if loader is None or name.startswith("_"):
        raise InputError(f"gauss.photographs names {name!r}, which skimage.data does not have; pick another")
    im = loader()
    im = np.asarray(im[0] if isinstance(im, tuple) else im)
    if im.dtype != np.uint8 or im.ndim not in (2, 3):
        raise InputError(f"gauss.photographs: {name} is not an 8-bit photograph ({im.dtype}, {im.shape}); pick another")
    return np.ascontiguousarray(np.repeat(im[..., None], 3, 2) if im.ndim == 2 else im[..., :3])


def photograph_crops(photo: np.ndarray, size: int) -> np.ndarray:
    """Grey linear crops [k, size, size] (k <= 4) from the centre of a photograph shrunk to a short side <= 2 size."""
    h, w = photo.shape[:2]
    if min(h, w) < size:
        raise InputError(f"a gauss photograph is {w}x{h}, smaller than scenes.test_crop = {size}; pick a larger one")
    grey = to_grey_linear(photo[None], h)[0]
    scale = min(1.0, 2 * size / min(h, w))
    if scale < 1.0:
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    rows, cols = min(2, grey.shape[0] // size), min(2, grey.shape[1] // size)
    top, left = (grey.shape[0] - rows * size) // 2, (grey.shape[1] - cols * size) // 2
    block = grey[top:top + rows * size, left:left + cols * size]
    return np.stack([block[r * size:(r + 1) * size, c * size:(c + 1) * size] for r in range(rows) for c in range(cols)])


def clean_set(photographs: list[str], test_frames: np.ndarray) -> dict[str, np.ndarray]:
    size = test_frames.shape[-1]
    crops = np.concatenate([photograph_crops(load_photograph(n), size) for n in photographs])
    frames = np.concatenate([crops, test_frames]).astype(np.float32)[:, None]
    subset = np.array([1] * len(crops) + [2] * len(test_frames))
    return {"frames": frames, "subset": subset}


@stage_main
def main() -> None:
    cfg = load_spec().gauss
    test, val = load_shard(SCENES_TEST)["frames"], load_shard(SCENES_VAL)["frames"]
    clean = clean_set(cfg.photographs, test[:, test.shape[1] // 2])
    save_shard(OUT / "clean.npz", **clean)
    degradation = Gauss()
    for level in degradation.levels:
        stored = {k: np.float32(v) for k, v in degradation.level(level).items()}
        sets = make_test_sets(degradation, {"test": clean["frames"], "val": val}, level, cfg.seed)
        save_shard(OUT / "noisy" / f"{level}.npz", **stored, **sets)


if __name__ == "__main__":
    main()
