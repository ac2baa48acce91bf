"""The prepared check of the paper profile on a GPU: `python -m tools.gpu_check [--e2e]` (about 8 minutes on one
GPU) prints and writes reports/gpu_check.md; `--dry` runs every part on the CPU at the tiny profile's sizes (the
test suite runs it). Two GPUs compare line by line: every figure is per model, in fixed units.

1. The machine: torch, the device and its memory, the arithmetic in use (train.precision resolved there).
2. Every model of the paper profile at the paper's batch and crop: steps per second over `--seconds` of training
   (after two warm-up steps), peak device memory, the slices a step took to fit the card (engine.train.fitting_step),
   the convolution and matrix-product work of one step (TFLOP, counted by torch's FlopCounterMode on the meta device,
   its grouped convolutions' count mended; the sampler and element-wise work are not counted) and the TFLOP/s achieved;
   and the loss of the first steps against a CPU float32 run of the same steps from the same start (batch 2 of 32 px
   crops), a check of the device's arithmetic, not of speed; and the milliseconds one thread takes to make a batch on
   the host, as a loader worker does (train.loader_workers: the steps/s above hold the batch on the device; workers keep
   up while workers x 1000 / ms exceeds them). A model that fails is a row saying why, and the check goes on.
3. Inference megapixels per second of Deformable 3D and KPN 5x5 on video at the paper's test size (the paper:
   0.27 against 0.30 MP/s on a GTX 1060).
4. The projected hours of the paper profile's training, per table: each model's steps x rates of the grid x its
   measured seconds per step (evaluation and the data stages not included).
5. With --e2e: the tiny profile's whole `dvc repro` on this device, in a copy of the project, or with
   --e2e-targets those stages and what they need (on an H200 the whole repro did not fit the check: README):
   the stages run and the wall time (--e2e-only: that alone, added to an existing report); its output streams
   to gpu_check.e2e.log beside it.

Without a GPU, `--estimate 100` prints only the counted work per step and the hours it would take at an assumed
100 TFLOP/s sustained: an estimate (the README's paper-profile costs), which the measured TFLOP/s above replace.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import yaml

import degradations  # noqa: F401  (registers)
from core.imports import ROOT
from core.frames import save_shard
from core.spec import Spec, replace
from core.training_data import TrainingSequences
from degradations import degradation_for
from engine.batches import AUTO_WORKERS_CUDA, StepBatches, step_batches
from engine.train import fitting_step, on_device
from models.checkpoint import build_model, model_spec, seeded_model
from models.compute import configure, device, resolve
from objectives import objective_for
from tools.profile import merge

FIRST_STEPS = 3  # steps compared against the CPU's float32
REFERENCE_CROP = 32  # their crop: the CPU's float32 of NLRN at the paper's 128 px needs tens of GB
FED_FRAMES = 16  # frames of the random training video the fed loop crops from
FED_MODELS = ("d3d", "kpn5_video", "d2d")  # the models whose host batch is slowest against their step


def paper_spec(dry: bool) -> Spec:
    """The paper profile; with dry, the tiny profile's sizes over it (every model, small)."""
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text()),
                   yaml.safe_load((ROOT / "profiles/paper.yaml").read_text()))
    if dry:
        params = merge(params, yaml.safe_load((ROOT / "profiles/tiny.yaml").read_text()))
    return Spec.model_validate(params)


def sync(on: torch.device) -> None:
    if on.type == "cuda":
        torch.cuda.synchronize(on)


def peak_memory_gb(on: torch.device) -> float:
    """Peak device memory since the last reset (CUDA), or the process's peak resident memory (CPU)."""
    if on.type == "cuda":
        return torch.cuda.max_memory_allocated(on) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def seeded(spec: Spec, name: str, on: torch.device, precision: str | None, **options):
    """A seeded model of params on `on` in `precision` (None: the one its training resolves, models.checkpoint.
    model_spec) and `options` (further entries of its model spec: channels_last), and Adam."""
    built = {**model_spec(name, spec.models[name], spec.train), **options}
    model = seeded_model({**built, "precision": precision or built["precision"]}, 0, on)
    return model, torch.optim.Adam(model.parameters(), 1e-4)


def setup(spec: Spec, name: str, on: torch.device, precision: str | None, batch: int, crop: int | None = None,
          **options):
    """`seeded`'s model and Adam, its objective and the first step's batch of the crop (the profile's unless
    given), moved there as the training loop moves it."""
    model, opt = seeded(spec, name, on, precision, **options)
    made = host_batches(spec, name, model.frames, batch, crop or spec.train.crop)
    return model, opt, made.objective, on_device(made[0], slice(None), on)


def host_batches(spec: Spec, name: str, frames: int, batch: int, crop: int) -> StepBatches:
    """The steps' host batches of model `name` (taking `frames` frames) as its training makes them
    (engine/batches.py), cropped from FED_FRAMES random frames in place of a stage's scenes."""
    entry = spec.models[name]
    d = degradation_for(entry)
    cfg = replace(spec.train, batch=batch, crop=crop)
    length = d.window or spec.data.length
    with tempfile.TemporaryDirectory() as folder:  # the sequences are read into memory
        pixels = np.random.default_rng(0).random((FED_FRAMES, 2 * crop, 2 * crop), dtype=np.float32)
        save_shard(Path(folder) / "frames.npz", frames=pixels, starts=np.arange(FED_FRAMES - length + 1))
        data = TrainingSequences(folder, length, crop)
    return StepBatches(data, objective_for(entry, cfg, d), cfg, d.window or frames, d)


def host_batch_ms(spec: Spec, name: str, frames: int, runs: int = 3) -> float:
    """Milliseconds one thread takes to make a step's batch of the profile's size (the crops, the degradation's
    and the objective's draws): what a loader worker (train.loader_workers) spends per step."""
    made = host_batches(spec, name, frames, spec.train.batch, spec.train.crop)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for step in range(runs):
            began = time.perf_counter()
            made[step]
            times.append(time.perf_counter() - began)
    finally:
        torch.set_num_threads(threads)
    return 1e3 * min(times)


def losses(spec: Spec, name: str, on: torch.device, precision: str | None, steps: int) -> list[float]:
    """The first steps' losses at batch 2 of REFERENCE_CROP px."""
    model, opt, objective, b = setup(spec, name, on, precision, 2, REFERENCE_CROP)
    return [fitting_step(model, opt, objective, b, step, spec.train.steps, 1)[0].item() for step in range(steps)]


def grouped_conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                               output_padding, groups, output_mask, out_shape, **_) -> int:
    """torch's count of a convolution's backward, with the weight's gradient of a grouped convolution mended:
    torch counts it as if every input channel met every output channel, `groups` times too much (FastDVDnet's
    grouped first layer, 3x its forward where 2x is due)."""
    from torch.utils.flop_counter import conv_backward_flop

    torch_count = conv_backward_flop.__wrapped__  # its formula on shapes, as this one is called
    args = (grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed, output_padding, groups)
    grad_input = torch_count(*args, [output_mask[0], False], out_shape)
    return grad_input + torch_count(*args, [False, output_mask[1]], out_shape) // groups


def flop_counter():
    """torch's FlopCounterMode, its grouped convolutions' backward counted right (grouped_conv_backward_flop)."""
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False,
                           custom_mapping={torch.ops.aten.convolution_backward: grouped_conv_backward_flop})


def step_flops(spec: Spec, name: str) -> float:
    """Convolution and matrix-product FLOPs of one training step (forward and backward) at the profile's batch
    and crop, counted on the meta device: no memory, any size."""
    model, _, objective, b = setup(spec, name, torch.device("meta"), "fp32", 1)
    with flop_counter() as counter:
        objective.loss(model, b, 0, spec.train.steps).backward()
    return counter.get_total_flops() * spec.train.batch


def speed(spec: Spec, name: str, on: torch.device, seconds: float) -> tuple[float, float, int]:
    """(steps per second over about `seconds` after two warm-up steps, peak memory GB, the slices a step took)
    at the profile's sizes."""
    if on.type == "cuda":
        torch.cuda.empty_cache()
    model, opt, objective, b = setup(spec, name, on, None, spec.train.batch)
    slices = 1
    for step in (0, 1):  # warm-up: the slices that fit, kernel choice (cudnn.benchmark, oneDNN), the allocator
        slices = fitting_step(model, opt, objective, b, step, spec.train.steps, slices)[1]
    sync(on)
    if on.type == "cuda":  # the peak of the steps measured, not of a first try that did not fit
        torch.cuda.reset_peak_memory_stats(on)
    done, began = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - began < seconds:
        slices = fitting_step(model, opt, objective, b, 2 + done, spec.train.steps, slices)[1]
        done += 1
        sync(on)
    return done / (time.perf_counter() - began), peak_memory_gb(on), slices


def fed_speed(spec: Spec, name: str, on: torch.device, seconds: float, workers: int) -> float:
    """Steps per second over about `seconds` (after two warm-up steps) with each step's batch made on the host as
    training makes it (engine/batches.py: `workers` loader processes, pinned on CUDA), from random frames."""
    model, opt = seeded(spec, name, on, None)
    made = host_batches(spec, name, model.frames, spec.train.batch, spec.train.crop)
    slices, done, began = 1, 0, 0.0
    for step, batch in enumerate(step_batches(made, 0, spec.train.steps, workers, pin=on.type == "cuda")):
        slices = fitting_step(model, opt, made.objective, on_device(batch, slice(None), on), step, spec.train.steps,
                              slices)[1]
        if step == 1:
            sync(on)
            began = time.perf_counter()
        elif step > 1:
            done += 1
            if time.perf_counter() - began >= seconds:
                break
    sync(on)
    return done / (time.perf_counter() - began)


def inference_mps(spec: Spec, name: str, on: torch.device, size: int, runs: int = 3) -> float:
    """Megapixels of output per second: one reference frame of size x size from its frames and noise map."""
    model, _ = seeded(spec, name, on, None)
    model.eval()
    x = torch.rand(1, model.frames, size, size, device=on)
    noise = torch.full((1, 1, size, size), 0.02, device=on)
    with torch.no_grad():
        model(x, noise)
        sync(on)
        began = time.perf_counter()
        for _ in range(runs):
            model(x, noise)
        sync(on)
    return runs * size * size / 1e6 / (time.perf_counter() - began)


def model_row(spec: Spec, name: str, on: torch.device, seconds: float) -> dict:
    with torch.device("meta"):  # its frames, without memory
        frames = build_model(model_spec(name, spec.models[name], spec.train)).frames
    sps, memory, slices = speed(spec, name, on, seconds)
    flops = step_flops(spec, name)
    ours = losses(spec, name, on, None, FIRST_STEPS)
    reference = losses(spec, name, torch.device("cpu"), "fp32", FIRST_STEPS)
    gap = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(ours, reference))
    return {"model": name, "steps_per_s": sps, "memory_gb": memory, "slices": slices, "tflop_per_step": flops / 1e12,
            "tflop_per_s": flops * sps / 1e12, "loss_gap": gap, "losses": ours, "cpu_losses": reference,
            "batch_ms": host_batch_ms(spec, name, frames)}


def model_rows(spec: Spec, on: torch.device, seconds: float, names: list[str], done=None) -> list[dict]:
    """One row per model; a model that fails is a row with its error, and the check goes on. `done(rows)` after
    each row: the report is written as it grows, so a check stopped by a time limit keeps what it measured."""
    rows = []
    for name in names:
        try:
            r = model_row(spec, name, on, seconds)
            print(f"{name:<28}{r['steps_per_s']:>9.2f} steps/s {r['memory_gb']:>7.2f} GB {r['slices']:>3} slice(s) "
                  f"{r['tflop_per_step']:>9.3g} TFLOP/step {r['tflop_per_s']:>9.3g} TFLOP/s  "
                  f"loss vs CPU fp32 {r['loss_gap']:.1e}  host batch {r['batch_ms']:.0f} ms", flush=True)
        except Exception as error:  # noqa: BLE001  (reported in the row and on stderr)
            traceback.print_exc()
            r = {"model": name, "failed": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
            print(f"{name:<28}failed: {r['failed']}", flush=True)
        if on.type == "cuda":
            torch.cuda.empty_cache()
        rows.append(r)
        if done:
            done(rows)
    return rows


def projection(spec: Spec, rows: list[dict]) -> dict[str, float]:
    """Hours of training per table (a model in several tables counts in each) and in all, over the models
    measured (a failed row counts nothing: the markdown says which)."""
    rates = len(spec.train.lr_grid)
    hours = {r["model"]: spec.train.steps * rates / r["steps_per_s"] / 3600 for r in rows if "failed" not in r}
    tables: dict[str, float] = {"all": sum(hours.values())}
    for name, h in hours.items():
        for table in spec.models[name].tables:
            tables[str(table)] = tables.get(str(table), 0.0) + h
    return tables


def estimate(spec: Spec, tflops: float, names: list[str]) -> str:
    """The counted work per step of each model and the projected training hours at `tflops` sustained."""
    rows = [{"model": n, "tflop_per_step": step_flops(spec, n) / 1e12} for n in names]
    for r in rows:
        r["steps_per_s"] = tflops / r["tflop_per_step"]
    hours = projection(spec, rows)
    lines = [f"{r['model']:<28}{r['tflop_per_step']:>8.2f} TFLOP/step" for r in rows]
    return "\n".join(lines + [f"At an assumed {tflops:g} TFLOP/s sustained, {spec.train.steps} steps x "
                              f"{len(spec.train.lr_grid)} rate(s): " + ", ".join(
                                  f"table {k} {v:.0f} h" for k, v in hours.items() if k != "all")
                              + f"; all models {hours['all']:.0f} GPU-hours (an estimate)"])


def tiny_repro(log: Path, targets: tuple[str, ...] = ()) -> tuple[float, int]:
    """(wall seconds, stages run) of the tiny profile's `dvc repro` in a copy of the project, on this device: every
    stage, or `targets` and the stages they need; its output streams to `log`, so a run stopped by a time limit
    shows the stage it was in."""
    from tests.conftest import repro_tiny

    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        repro_tiny(Path(folder), log=log, targets=targets)
        seconds = time.perf_counter() - began
    return seconds, log.read_text().count("Running stage ")


def markdown(head: list[str], rows: list[dict], infer: dict, hours: dict, e2e: str | None,
             pending: list[str] = (), fed: dict | None = None) -> str:
    """The report; `pending`: models not measured yet (the check was stopped, or is still running); `fed`:
    model -> {loader workers: steps/s} of the loop fed from the host."""
    failed = [r["model"] for r in rows if "failed" in r]
    md = ["# The paper profile on this device (`python -m tools.gpu_check`)", "", *head, "",
          "| model | steps / s | peak memory (GB) | slices a step | TFLOP / step | TFLOP / s | first losses against "
          "CPU fp32 (largest relative gap) | a host batch, one thread (ms) |", "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['model']} | failed: {r['failed']} |||||||" if "failed" in r else
           f"| {r['model']} | {r['steps_per_s']:.2f} | {r['memory_gb']:.2f} | {r['slices']} | "
           f"{r['tflop_per_step']:.3g} | {r['tflop_per_s']:.3g} | {r['loss_gap']:.1e} | {r['batch_ms']:.0f} |"
           for r in rows]
    if pending:
        md += ["", f"Not measured (the check stopped before them): {', '.join(pending)}."]
    md += ["", "Inference, megapixels per second at the paper's test size: "
           + (", ".join(f"{k} {v:.2f}" for k, v in infer.items()) or "not measured") + " (the paper, GTX 1060: "
           "Deformable 3D 0.27, KPN 5x5 0.30).", "",
           "Projected training hours of the profile (steps x rates x measured seconds per step; evaluation and "
           "data stages not included): " + ", ".join(f"table {k} {v:.1f}" for k, v in hours.items() if k != "all")
           + f"; all models {hours['all']:.1f}" + (f" (not counted, failed: {', '.join(failed)})" if failed else "")
           + "."]
    if fed:
        md += ["", "Fed from the host as training is (engine/batches.py), steps per second by loader workers: "
               + "; ".join(f"{m} " + ", ".join(f"{w} workers {v:.2f}" for w, v in by.items())
                           for m, by in fed.items()) + "."]
    if e2e is not None:
        md += ["", e2e]
    return "\n".join(md) + "\n"


def e2e_line(seconds: float, stages: int, targets: tuple[str, ...] = ()) -> str:
    which = f"`dvc repro {' '.join(targets)}`" if targets else "whole `dvc repro`"
    return f"The tiny profile's {which} on this device: {stages} stage{'s' * (stages != 1)} in {seconds:.0f} s wall."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry", action="store_true", help="every part on the CPU at the tiny profile's sizes")
    parser.add_argument("--seconds", type=float, default=6.0, help="training time measured per model")
    parser.add_argument("--models", nargs="*", help="a subset of the paper profile's models")
    parser.add_argument("--e2e", action="store_true", help="also the tiny profile's whole dvc repro")
    parser.add_argument("--e2e-targets", nargs="*", default=[], metavar="STAGE",
                        help="the end-to-end run reproduces these stages and what they need, not every stage "
                             "(evaluate@d3d evaluate@svrnn: a training and an evaluation stage on the device)")
    parser.add_argument("--e2e-only", action="store_true",
                        help="only the tiny profile's dvc repro, its line added to the report at --out")
    parser.add_argument("--out", default=str(ROOT / "reports/gpu_check.md"))
    parser.add_argument("--memory", type=float, metavar="GB",
                        help="use at most this much device memory, as a card of that size would")
    parser.add_argument("--fed", nargs="*", default=list(FED_MODELS),
                        help="models also measured fed from the host, with 0 and the auto loader workers")
    parser.add_argument("--estimate", type=float, metavar="TFLOPS",
                        help="no measurement: the projected hours at this assumed sustained TFLOP/s")
    args = parser.parse_args(argv)
    spec = paper_spec(args.dry)
    if args.estimate:
        return print(estimate(spec, args.estimate, args.models or list(spec.models)))
    on = torch.device("cpu") if args.dry else device("cuda")
    out, targets = Path(args.out), tuple(args.e2e_targets)
    if args.e2e_only:  # a separate process: the packages only the pipeline needs are not loaded by the check
        if not out.exists():
            raise SystemExit(f"error: --e2e-only adds a line to the report {out}, which does not exist; run "
                             "`python -m tools.gpu_check` first or name the report with --out")
        e2e = tiny_repro(out.with_suffix(".e2e.log"), targets)
        out.write_text(out.read_text() + "\n" + e2e_line(*e2e, targets) + "\n")
        return print(out.read_text())
    configure(on, spec.train.deterministic)
    total = torch.cuda.get_device_properties(on).total_memory / 1e9 if on.type == "cuda" else 0.0
    if args.memory and on.type == "cuda":
        torch.cuda.set_per_process_memory_fraction(min(args.memory / total, 1.0), on.index or 0)
    precision = resolve(spec.train.precision, on)
    name = torch.cuda.get_device_name(on) if on.type == "cuda" else "CPU (dry run at the tiny profile's sizes)"
    memory = f", {total:.0f} GB" + (f", capped at {args.memory:g} GB (--memory)" if args.memory else "") \
        if on.type == "cuda" else ""
    head = [f"torch {torch.__version__}; {name}{memory}; arithmetic {precision} (train.precision: "
            f"{spec.train.precision}; fp32 under auto for a model whose bf16 does not pay: bf16_pays); "
            f"batch {spec.train.batch}, crop {spec.train.crop}, width {spec.train.width}; "
            f"{args.seconds:g} s of training measured per model."]
    print(head[0], flush=True)
    names = args.models or list(spec.models)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(rows: list[dict], infer: dict, fed: dict | None = None, e2e: str | None = None) -> str:
        text = markdown(head, rows, infer, projection(spec, rows), e2e, names[len(rows):], fed)
        out.write_text(text)
        return text

    rows = model_rows(spec, on, args.seconds, names, lambda rows: write(rows, {}))
    size = spec.scenes.test_crop
    infer = {n: inference_mps(spec, n, on, size) for n in ("d3d", "kpn5_video") if n in spec.models}
    fed: dict[str, dict[int, float]] = {}
    for n in (m for m in args.fed if m in spec.models):
        fed[n] = {w: fed_speed(spec, n, on, args.seconds, w) for w in (0, 2 if args.dry else AUTO_WORKERS_CUDA)}
        print(f"{n:<28}fed from the host: " + ", ".join(f"{w} workers {v:.2f} steps/s" for w, v in fed[n].items()),
              flush=True)
        write(rows, infer, fed)
    text = write(rows, infer, fed)  # kept if the end-to-end run fails
    if args.e2e:
        text = write(rows, infer, fed, e2e_line(*tiny_repro(out.with_suffix(".e2e.log"), targets), targets))
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
