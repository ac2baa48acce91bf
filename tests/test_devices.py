"""Device-correctness without a GPU: every model and objective traced on PyTorch's `meta` device, which has
shapes and devices but no data, so a tensor made on the host inside a forward, a loss or a backward (a constant,
a mask, a scale) stops it as it would stop a CUDA run; at the paper's sizes as well, which cost nothing there."""
from __future__ import annotations

import re

import pytest
import torch
import yaml

import degradations  # noqa: F401  (registers)
from core.imports import ROOT
from core.spec import Spec
from engine.train import on_device
from degradations import degradation_for
from models.checkpoint import build_model, model_spec
from objectives import objective_for
from tools.profile import merge


def profile(name: str | None) -> Spec:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    if name:
        params = merge(params, yaml.safe_load((ROOT / f"profiles/{name}.yaml").read_text()))
    return Spec.model_validate(params)


def meta_step(spec: Spec, name: str, batch: int, crop: int) -> torch.Tensor:
    """One training loss and its backward on the meta device, from a batch drawn on the host (as the data
    loader draws it) and moved there."""
    entry = spec.models[name]
    model = build_model(model_spec(name, entry, spec.train)).to("meta")
    degradation = degradation_for(entry)
    objective = objective_for(entry, spec.train, degradation)
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(batch, degradation.window or model.frames, crop, crop, generator=g)
    host = {"clean": clean, **degradation.training_pair(clean, g), "generator": g}
    host |= objective.draw(host)
    loss = objective.loss(model, on_device(host, slice(None), torch.device("meta")), 0, spec.train.steps)
    loss.backward()
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters() if p.requires_grad)
    return loss


@pytest.mark.parametrize("which", [None, "paper"])
def test_every_model_trains_a_step_on_the_meta_device(which):
    """Default and paper profiles, at the paper's crop for the latter (batch 2: the batch size adds no code
    path)."""
    spec = profile(which)
    for name in spec.models:
        loss = meta_step(spec, name, 2, spec.train.crop)
        assert loss.device.type == "meta" and loss.dim() == 0, name


def test_a_host_tensor_made_inside_a_forward_is_caught():
    """The test above can fail: a forward that multiplies by a tensor made on the host stops on meta."""
    spec = profile(None)
    model = build_model(model_spec("d2d", spec.models["d2d"], spec.train)).to("meta")
    frames, noise = torch.empty(1, 1, 16, 16, device="meta"), torch.empty(1, 1, 16, 16, device="meta")
    original = type(model).forward

    def forward(self, x, noise_map=None, return_aux=False):
        return original(self, x * torch.tensor([[[[1.0]]], [[[1.0]]]])[:1], noise_map, return_aux)

    with pytest.raises(RuntimeError, match="device"):
        forward(model, frames, noise)


def test_the_gpu_check_runs_dry_on_the_cpu(tmp_path, capsys):
    """tools.gpu_check --dry: every part of the prepared GPU check at the tiny sizes, on the CPU: speeds, the
    loss of the first steps against float32, inference, the projection; and the work it counts is the
    convolutions' own (DnCNN: 3 x 2 x 9 x the sum of in x out channels per pixel, forward and backward)."""
    from tools.gpu_check import main, paper_spec, step_flops

    out = tmp_path / "gpu_check.md"
    main(["--dry", "--seconds", "0.05", "--models", "d2d", "dncnn", "--fed", "d2d", "--out", str(out)])
    fed = re.search(r"steps per second by loader workers: d2d 0 workers ([\d.]+), 2 workers ([\d.]+)\.",
                    out.read_text())
    assert fed and float(fed[1]) > 0 and float(fed[2]) > 0
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| d2d") or
            line.startswith("| dncnn")]
    assert len(rows) == 2 and all(float(r[1]) > 0 and r[3] == "1" and float(r[6].rstrip(" |")) < 0.1 for r in rows)
    assert "Projected training hours" in out.read_text() and "d3d" in out.read_text()
    spec = paper_spec(dry=True)
    width, crop = spec.models["dncnn"].args["width"], spec.train.crop
    channels = 2 * width + 15 * width * width + width  # frames and noise map in, 15 inner layers, one out
    expected = 3 * 2 * 9 * channels * crop * crop * spec.train.batch
    assert step_flops(spec, "dncnn") == pytest.approx(expected, rel=0.02)
    main(["--dry", "--estimate", "100", "--models", "d2d"])
    assert "GPU-hours (an estimate)" in capsys.readouterr().out


@pytest.mark.parametrize("input_grad", [False, True])
def test_the_gpu_check_counts_a_grouped_convolution_once_per_group(input_grad):
    """A grouped convolution's weight gradient costs its forward, as the input's does (FastDVDnet's first layer,
    whose input needs no gradient: 2x the forward, where torch's own FlopCounterMode counts 3x)."""
    from tools.gpu_check import flop_counter

    conv = torch.nn.Conv2d(15, 30, 3, stride=2, padding=1, groups=3)
    x = torch.rand(2, 15, 9, 9, requires_grad=input_grad)
    forward = 2 * (2 * 30 * 5 * 5) * (5 * 9)  # outputs x multiply-adds per output
    with flop_counter() as counter:
        conv(x).sum().backward()
    assert counter.get_total_flops() == forward * (3 if input_grad else 2)


def test_a_stopped_gpu_check_keeps_the_rows_it_measured(tmp_path, monkeypatch):
    """The report is written after every model: a check stopped by a time limit (here: the second model raises
    KeyboardInterrupt, as a kill would stop it) leaves the first model's row and names the models not reached."""
    from tools import gpu_check

    measured = gpu_check.model_row

    def stopped(spec, name, on, seconds):
        if name == "dncnn":
            raise KeyboardInterrupt
        return measured(spec, name, on, seconds)

    monkeypatch.setattr(gpu_check, "model_row", stopped)
    out = tmp_path / "gpu_check.md"
    with pytest.raises(KeyboardInterrupt):
        gpu_check.main(["--dry", "--seconds", "0.05", "--models", "d2d", "dncnn", "kpn5_image", "--out", str(out)])
    text = out.read_text()
    assert "| d2d | " in text and "| dncnn |" not in text
    assert "Not measured (the check stopped before them): dncnn, kpn5_image." in text


def test_the_end_to_end_check_can_reproduce_chosen_stages_alone(tmp_path):
    """--e2e-targets: the tiny profile's `dvc repro` of the stages named and what they need (here the check stage
    alone), its line added to the report with the stages that ran, counted from its log."""
    from tools.gpu_check import main

    out = tmp_path / "gpu_check.md"
    out.write_text("# an earlier report\n")
    main(["--dry", "--e2e-only", "--e2e-targets", "check", "--out", str(out)])
    assert re.search(r"The tiny profile's `dvc repro check` on this device: 1 stage in \d+ s wall\.", out.read_text())
    assert "Running stage 'check'" in (tmp_path / "gpu_check.e2e.log").read_text()


def test_the_end_to_end_check_streams_dvc_output_to_its_log(tmp_path):
    """tools.gpu_check --e2e: the command's output goes to the log file itself (a run killed by a time limit
    leaves the stages it got through), and a failure still quotes it."""
    import sys

    from tests.conftest import run

    log = tmp_path / "e2e.log"
    proc = run([sys.executable, "-c", "print('stage a'); print('stage b')"], tmp_path, log=log)
    assert log.read_text() == "stage a\nstage b\n" == proc.stdout
    with pytest.raises(AssertionError, match="stage c"):
        run([sys.executable, "-c", "print('stage c'); raise SystemExit(3)"], tmp_path, log=log)
    assert log.read_text() == "stage c\n"
