"""Training: resume equals an uninterrupted run, DDP over 2 gloo processes equals one process, a non-finite
loss stops with the last good checkpoint kept."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import pipeline.train as train_stage
from pipeline.config import InputError
from pipeline.frames import save_shard
from tests.conftest import ROOT, copy_project


def small_params(**train) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update({"steps": 6, "batch": 4, "crop": 16, "width": 2, "weight_width": 4,
                            "checkpoint_every": 2, "threads": 1, **train})
    return params


def training_data(root: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.random((4, 6), dtype=np.float32)
    frames = np.stack([np.kron(np.roll(base, k, axis=1), np.ones((6, 6), np.float32)) for k in range(12)])
    save_shard(root / "data/scenes/train/clip.npz", frames=frames, starts=np.arange(0, 8, dtype=np.int64))


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    training_data(tmp_path)
    return tmp_path


def weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu")["model"]


def same(a: dict, b: dict, atol=0.0) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=0) for k in a)


def test_interrupted_then_resumed_equals_uninterrupted(project):
    params = small_params()
    train_stage.train("d3d", params, Path("full"), Path("ck/full.pt"))
    train_stage.train("d3d", params, Path("split"), Path("ck/split.pt"), stop_after=3)
    assert not Path("split/model.pt").exists()
    assert torch.load("ck/split.pt")["step"] == 2  # the checkpoint of step 2; step 3's work is redone
    train_stage.train("d3d", params, Path("split"), Path("ck/split.pt"))
    assert same(weights(Path("full/model.pt")), weights(Path("split/model.pt")))
    curve = Path("split/live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(curve) == 1 + 6  # header and every step, the replayed ones included


def test_a_changed_setting_does_not_resume_a_stale_checkpoint(project):
    train_stage.train("kpn5_image", small_params(), Path("a"), Path("ck.pt"), stop_after=2)
    train_stage.train("kpn5_image", small_params(seed=1), Path("b"), Path("ck.pt"))
    train_stage.train("kpn5_image", small_params(seed=1), Path("c"), Path("ck_fresh.pt"))
    assert same(weights(Path("b/model.pt")), weights(Path("c/model.pt")))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(project, monkeypatch):
    real = train_stage.annealed_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 4 else loss

    monkeypatch.setattr(train_stage, "annealed_loss", poisoned)
    with pytest.raises(InputError, match=r"loss of d2d became nan at step 3; the last good checkpoint .*step 2"):
        train_stage.train("d2d", small_params(), Path("out"), Path("ck.pt"))
    state = torch.load("ck.pt")
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_ddp_two_gloo_processes_equal_one_process_with_the_whole_batch(tmp_path):
    for name in ("one", "two"):
        root = copy_project(tmp_path / name)
        training_data(root)
        (root / "params.yaml").write_text(yaml.safe_dump(small_params(steps=4)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "pipeline.train", "d3d"], cwd=tmp_path / "one", env=env, check=True,
                   capture_output=True)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29517", "-m", "pipeline.train", "d3d"], cwd=tmp_path / "two", env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = weights(tmp_path / "one/data/models/d3d/model.pt")
    two = weights(tmp_path / "two/data/models/d3d/model.pt")
    assert same(one, two, atol=1e-5)
    assert not same(one, {k: torch.zeros_like(v) for k, v in one.items()})
