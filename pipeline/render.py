"""Stage `render`: videos made from real photographs (skimage.data), for the embedded default data.

- long videos (30 fps) of several shots joined by hard cuts, which `scenes` treats like any other video;
- 240 fps clips for the motion study (`motion`, Figure 8), with known sub-pixel camera motion.

Every shot has a smooth camera path (translation, slow zoom and rotation) over one photograph and an
independently moving layer (a soft-edged patch of another photograph). Frames are rendered at 2x and averaged
down, so sub-pixel motion is anti-aliased.
"""
from __future__ import annotations


import cv2
import numpy as np
import skimage.data
from tqdm import tqdm

from core.config import InputError, stage_main
from core.frames import write_video
from core.paths import RENDERED
from core.spec import Render, load_spec

SUPERSAMPLE = 2


def load_photograph(name: str) -> np.ndarray:
    """An skimage.data photograph as uint8 RGB."""
    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise InputError(f"render.photographs names {name!r}, which skimage.data does not have; pick another")
    im = np.asarray(loader())
    if im.dtype == bool:
        im = im.astype(np.uint8) * 255
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=2)
    return np.ascontiguousarray(im[..., :3]).astype(np.uint8)


def _path(rng: np.random.Generator, n: int, speed: float, extent: float) -> np.ndarray:
    """A smooth 2D path of n points: constant velocity of `speed` px/frame plus a slow sinusoidal sway."""
    angle = rng.uniform(0, 2 * np.pi)
    t = np.arange(n)
    sway_freq = rng.uniform(0.5, 1.5) * 2 * np.pi / max(n, 1)
    sway = 0.15 * extent * np.sin(sway_freq * t + rng.uniform(0, 2 * np.pi))
    start = -0.5 * speed * (n - 1)
    along = start + speed * t
    return np.stack([along * np.cos(angle) - sway * np.sin(angle), along * np.sin(angle) + sway * np.cos(angle)], 1)


def render_shot(photo: np.ndarray, sprite: np.ndarray, n_frames: int, height: int, width: int,
                speed: float, rng: np.random.Generator) -> np.ndarray:
    """n_frames uint8 RGB frames [n, height, width, 3] of one shot; `speed` is the camera motion in px/frame."""
    s = SUPERSAMPLE
    oh, ow = height * s, width * s
    # Scale the photograph so the window plus its travel fits inside it, at no less than 1.2x the window.
    travel = speed * n_frames * s
    need = max((ow + travel) / photo.shape[1], (oh + travel) / photo.shape[0], 1.2 * ow / photo.shape[1],
               1.2 * oh / photo.shape[0])
    src = cv2.resize(photo, None, fx=need, fy=need,
                     interpolation=cv2.INTER_AREA if need < 1 else cv2.INTER_CUBIC).astype(np.float32)
    centre = np.array([src.shape[1], src.shape[0]], np.float64) / 2
    cam = _path(rng, n_frames, speed * s, 0.1 * ow)
    zoom = 1 + rng.uniform(-0.05, 0.05) * np.linspace(0, 1, n_frames)
    rot = np.deg2rad(rng.uniform(-2, 2)) * np.linspace(0, 1, n_frames)

    side = int(min(oh, ow) * rng.uniform(0.35, 0.5))
    patch = cv2.resize(sprite, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[:side, :side] / (side - 1) * 2 - 1
    alpha = np.clip((1 - np.hypot(xx, yy)) * 6, 0, 1).astype(np.float32)  # soft elliptical edge
    layer = _path(rng, n_frames, 1.5 * speed * s, 0.2 * ow) + np.array([ow, oh]) / 2 - side / 2

    frames = np.empty((n_frames, height, width, 3), np.uint8)
    for i in range(n_frames):
        c, z, r = centre + cam[i], zoom[i], rot[i]
        a = z * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
        m = np.hstack([a, (c - a @ np.array([ow / 2, oh / 2]))[:, None]])  # output pixel -> source pixel
        bg = cv2.warpAffine(src, m, (ow, oh), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REFLECT)
        t = np.float64([[1, 0, layer[i, 0]], [0, 1, layer[i, 1]]])
        fg = cv2.warpAffine(patch, t, (ow, oh), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
        al = cv2.warpAffine(alpha, t, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
        img = bg * (1 - al) + fg * al
        frames[i] = np.clip(cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA) + 0.5, 0, 255)
    return frames


def render_long_video(photos: list[np.ndarray], cfg: Render, rng: np.random.Generator) -> np.ndarray:
    """Several shots of different photographs joined by hard cuts."""
    n_shots = int(rng.integers(cfg.shots_per_video[0], cfg.shots_per_video[1] + 1))
    picks = rng.choice(len(photos), size=n_shots + 1, replace=False)
    shots = []
    for k in range(n_shots):
        n = int(rng.integers(cfg.shot_frames[0], cfg.shot_frames[1] + 1))
        speed = rng.uniform(*cfg.camera_speed)
        shots.append(render_shot(photos[picks[k]], photos[picks[k + 1]], n, cfg.height, cfg.width, speed, rng))
    return np.concatenate(shots)


@stage_main
def main() -> None:
    cfg = load_spec().render
    photos = [load_photograph(n) for n in cfg.photographs]
    rng = np.random.default_rng(cfg.seed)
    out = RENDERED
    for k in tqdm(range(cfg.long_videos), desc="render: videos with cuts"):
        write_video(out / "videos" / f"rendered_{k:02d}.avi", render_long_video(photos, cfg, rng), cfg.fps)
    for k in tqdm(range(cfg.motion_clips), desc="render: 240 fps clips"):
        a, b = rng.choice(len(photos), size=2, replace=False)
        clip = render_shot(photos[a], photos[b], cfg.motion_frames, cfg.height, cfg.width,
                           cfg.motion_speed, rng)
        write_video(out / "clips240" / f"clip_{k:02d}.avi", clip, 240.0)


if __name__ == "__main__":
    main()
