"""Denoise your own footage without any clean frame: train Noise2Void or HQ-SSL on the noisy video alone, then
restore every frame of it.

    python -m tools.denoise_video my_noisy.mp4 denoised.avi                      # Noise2Void (params entry n2v)
    python -m tools.denoise_video my_noisy.mp4 denoised.avi --model hqssl --sigma-s 2.5e-3 --sigma-r 1e-2

The frames are converted to linear intensities at --height (default: the video's own). In colour (the default,
`--colour per-channel`) the suite's grey network restores the R, G and B channels separately, as Xu et al.
(2019, Appendix B) do, one model trained on the three channels' frames together; `--colour grey` restores the
luma alone (the suite's own data). The model of params.yaml `models.<model>` trains with the `train` budget
(--steps to change it) at the rate its default run chose (data/models/<model>/tune.json) or the largest of
train.lr_grid, and the output is a lossless FFV1 AVI in sRGB. HQ-SSL's posterior needs the noise parameters of
the raw noise model (sigma_s * q + sigma_r^2 on linear intensities, the same in every channel); Noise2Void needs
none.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from core.colour import UINT8_TO_LINEAR, linear_to_srgb
from core.config import InputError, stage_main
from core.frames import read_video, to_grey_linear, write_video
from core.paths import model_folder
from core.registry import DEGRADATIONS
from core.spec import Spec, load_spec, replace
from engine.infer import run_model
from engine.own_data import observed_spec, train_on_noisy
from models.checkpoint import load_model
from models.compute import device


def peak_rate(spec: Spec, model: str) -> float:
    tuned = model_folder(model) / "tune.json"
    if tuned.is_file():
        return float(json.loads(tuned.read_text())["lr"])
    return max(float(g) for g in spec.train.lr_grid)


def to_linear_rgb(rgb: np.ndarray, height: int) -> np.ndarray:
    """uint8 RGB frames [N, H, W, 3] -> linear float32 [N, height, W*height/H, 3], resized in linear light (INTER_AREA)
    as core.frames.to_grey_linear resizes grey."""
    h, w = rgb.shape[1:3]
    width = max(1, round(w * height / h))
    linear = UINT8_TO_LINEAR[rgb]
    if (h, w) == (height, width):
        return linear
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in linear])


def restore(net, frames: np.ndarray, sigma: dict[str, float]) -> np.ndarray:
    """A grey model over noisy linear frames [N, H, W], or over each channel of colour frames [N, H, W, 3]."""
    if frames.ndim == 4:
        return np.stack([restore(net, frames[..., c], sigma) for c in range(frames.shape[-1])], axis=-1)
    return run_model(net, frames[:, None], DEGRADATIONS.build("observed", **sigma), sigma)[0]


def denoise_frames(frames: np.ndarray, spec: Spec, model: str, sigma: dict[str, float], lr: float,
                   work: Path, name: str = "the video") -> np.ndarray:
    """Noisy linear frames [N, H, W], or colour [N, H, W, 3] -> restored, the same shape, by a model trained on
    them alone (on a colour video's three channels together, each a grey video)."""
    taken = spec.models[model].args.get("frames", 1)
    if taken != 1:
        raise InputError(f"--model {model} takes {taken} frames; use a single-frame model (n2v, hqssl)")
    length = spec.data.length  # training windows of the suite's sequence length (their middle frame)
    if len(frames) < length:
        raise InputError(f"{name} has {len(frames)} frames; it needs at least 2*data.tau+1 = {length}")
    channels = [frames] if frames.ndim == 3 else [frames[..., c] for c in range(frames.shape[-1])]
    # A window never crosses from one channel's frames into the next one's.
    starts = np.concatenate([k * len(frames) + np.arange(len(frames) - length + 1) for k in range(len(channels))])
    net = load_model(train_on_noisy(model, spec, np.concatenate(channels), starts, work, lr, sigma),
                     device(spec.train.device))
    return restore(net, frames, sigma)


@stage_main
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("output", type=Path, help="the denoised video (.avi, lossless)")
    ap.add_argument("--model", default="n2v", help="a params.yaml model trained without clean frames (n2v, hqssl)")
    ap.add_argument("--sigma-s", type=float, default=0.0, help="signal-dependent noise parameter (HQ-SSL)")
    ap.add_argument("--sigma-r", type=float, default=0.0, help="signal-independent noise std (HQ-SSL)")
    ap.add_argument("--height", type=int, default=0, help="resize to this height first (0: keep)")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: params train.steps)")
    ap.add_argument("--colour", choices=("per-channel", "grey"), default="per-channel",
                    help="per-channel (default): R, G and B restored separately by the grey network, as Xu et al. "
                         "2019 do in colour; grey: the luma alone, as the suite's own data")
    ap.add_argument("--force", action="store_true", help="overwrite the output file when it exists")
    args = ap.parse_args(argv)
    if args.output.exists() and not args.force:
        raise InputError(f"output {args.output} exists; name another file, or add --force to overwrite it")
    if args.output.suffix.lower() != ".avi":
        raise InputError(f"output {args.output} must end in .avi (a lossless FFV1 video)")
    if args.output.resolve() == args.video.resolve():
        raise InputError(f"output {args.output} is the input video; name another file")
    spec = load_spec()
    if args.steps:
        spec = replace(spec, train=replace(spec.train, steps=args.steps))
    if args.model not in spec.models:
        raise InputError(f"--model {args.model} is not in params.yaml `models`; use n2v or hqssl")
    sigma = {"sigma_s": args.sigma_s, "sigma_r": args.sigma_r}
    observed_spec(spec, args.model, sigma)  # refuses a model that trains on clean frames
    if not spec.models[args.model].args.get("blind", False) and not any(sigma.values()):
        raise InputError(f"--model {args.model} uses the noise level (HQ-SSL's posterior, a non-blind network): "
                         "give --sigma-s and --sigma-r")
    if not args.video.is_file():
        raise InputError(f"video {args.video} does not exist; give the path of your noisy video")
    rgb, fps = read_video(args.video)
    convert = to_linear_rgb if args.colour == "per-channel" else to_grey_linear
    frames = convert(rgb, args.height or rgb.shape[1])
    if min(frames.shape[1:3]) < spec.train.crop:
        raise InputError(f"video {args.video} is {frames.shape[2]}x{frames.shape[1]}, smaller than train.crop="
                         f"{spec.train.crop}; give a larger --height or lower train.crop")
    with tempfile.TemporaryDirectory() as work:
        out = denoise_frames(frames, spec, args.model, sigma, peak_rate(spec, args.model), Path(work),
                             f"video {args.video}")
    srgb = (np.clip(linear_to_srgb(np.clip(out, 0, 1)), 0, 1) * 255 + 0.5).astype(np.uint8)
    write_video(args.output, srgb if srgb.ndim == 4 else np.repeat(srgb[..., None], 3, axis=-1), fps)
    print(f"wrote {args.output}: {len(srgb)} frames, {srgb.shape[2]}x{srgb.shape[1]}, "
          f"{'colour' if srgb.ndim == 4 else 'grey'}, denoised by {args.model}")


if __name__ == "__main__":
    main()
