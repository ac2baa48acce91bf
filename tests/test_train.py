"""Training: resume equals an uninterrupted run, DDP over 2 gloo processes equals one process, a non-finite
loss stops with the last good checkpoint kept."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import engine.train as train_stage
from core.config import InputError
from core.frames import save_shard
from core.registry import OBJECTIVES
from core.spec import Spec
from engine.run import Run, resume_key
from objectives.supervised import Supervised
from tests.conftest import ROOT, copy_project


@OBJECTIVES.register("test_nan_at_step_3")
class NanAtStep3(Supervised):
    """Supervised, but the loss of step 3 is NaN: what a diverging run looks like to the training stage."""

    def loss(self, net, batch, step, steps):
        loss = super().loss(net, batch, step, steps)
        return loss * float("nan") if step == 3 else loss


LR = 1e-3


def small_dict(models: dict | None = None, **train) -> dict:
    """The default params at a tiny training size; `models` changes entries ({name: {key: value}})."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update({"steps": 6, "batch": 4, "crop": 16, "width": 2, "weight_width": 4,
                            "checkpoint_every": 2, "threads": 1, **train})
    for name, changes in (models or {}).items():
        params["models"][name].update(changes)
    return params


def small_params(models: dict | None = None, **train) -> Spec:
    return Spec.model_validate(small_dict(models, **train))


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
    params = small_params(ema=0.5)  # a moving average over 3 of the 6 steps: its state resumes too
    train_stage.train(Run.of(params, "d3d", LR), Path("full"), Path("ck/full.pt"))
    train_stage.train(Run.of(params, "d3d", LR), Path("split"), Path("ck/split.pt"), stop_after=3)
    assert not Path("split/model.pt").exists()
    assert torch.load("ck/split.pt")["step"] == 2  # the checkpoint of step 2; step 3's work is redone
    train_stage.train(Run.of(params, "d3d", LR), Path("split"), Path("ck/split.pt"))
    assert same(weights(Path("full/model.pt")), weights(Path("split/model.pt")))
    curve = Path("split/live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert len(curve) == 1 + 6  # header and every step, the replayed ones included


def test_changed_training_data_trains_anew_rather_than_resuming(project):
    """The user's own videos replace the training data: the old checkpoint must not stand in for training."""
    train_stage.train(Run.of(small_params(), "kpn5_image", LR), Path("a"), Path("ck.pt"), stop_after=4)
    shard = dict(np.load("data/scenes/train/clip.npz"))
    save_shard("data/scenes/train/clip.npz", frames=shard["frames"][:, ::-1].copy(), starts=shard["starts"])
    train_stage.train(Run.of(small_params(), "kpn5_image", LR), Path("b"), Path("ck.pt"))
    train_stage.train(Run.of(small_params(), "kpn5_image", LR), Path("c"), Path("fresh.pt"))
    assert same(weights(Path("b/model.pt")), weights(Path("c/model.pt")))
    assert not Path("ck.pt").exists()  # a finished run leaves no checkpoint to be mistaken for it later


def test_the_same_params_give_byte_identical_model_files(project):
    for out in ("x", "y"):
        train_stage.train(Run.of(small_params(), "d2d", LR), Path(out), Path(f"{out}.pt"))
    assert Path("x/model.pt").read_bytes() == Path("y/model.pt").read_bytes()
    assert set(torch.load("x/model.pt")) == {"spec", "model"}  # timings live in the dvclive summary


@pytest.mark.parametrize("name", ["d3d", "n2v"])
def test_batches_made_ahead_by_worker_processes_train_the_same_bytes(project, name):
    """train.loader_workers: batches made by two worker processes ahead of the loop (a 5-frame video batch; a
    Noise2Void batch with its drawn masks) train a model byte-identical to the loop's own batches, and a run
    stopped under one setting resumes under the other."""
    for out, workers in (("loop", 0), ("ahead", 2)):
        train_stage.train(Run.of(small_params(loader_workers=workers), name, LR), Path(out), Path(f"{out}.pt"))
    assert Path("loop/model.pt").read_bytes() == Path("ahead/model.pt").read_bytes()
    train_stage.train(Run.of(small_params(loader_workers=2), name, LR), Path("mixed"), Path("mixed.pt"), stop_after=4)
    assert torch.load("mixed.pt")["hash"] == resume_key(Run.of(small_params(loader_workers=0), name, LR))
    train_stage.train(Run.of(small_params(loader_workers=0), name, LR), Path("mixed"), Path("mixed.pt"))
    assert Path("loop/model.pt").read_bytes() == Path("mixed/model.pt").read_bytes()


def test_a_batch_drawn_in_parts_is_its_parts_side_by_side(project):
    """train.batch_parts: one part is the step's own stream (the bytes of a run on one process); in two parts,
    the whole batch is each part as a process would draw it alone, concatenated, and the parts differ."""
    from core.training_data import TrainingSequences
    from degradations import degradation_for
    from engine.batches import batch_parts, step_batch
    from objectives import objective_for

    spec = small_params()
    cfg, d = spec.train, degradation_for(spec.models["d3d"])
    data = TrainingSequences(Path("data/scenes/train"), 5, cfg.crop)
    objective = objective_for(spec.models["d3d"], cfg, d)
    alone = step_batch(data, objective, cfg, 7, 5, d)
    assert torch.equal(alone["clean"], data.batch(cfg.seed, 7, cfg.batch, cfg.crop, 5, d)["clean"])
    whole = step_batch(data, objective, cfg, 7, 5, d, range(2), 2)
    first, second = (step_batch(data, objective, cfg, 7, 5, d, range(k, k + 1), 2) for k in (0, 1))
    half = cfg.batch // 2
    for key in ("clean", "input", "condition"):
        assert torch.equal(whole[key], torch.cat([first[key], second[key]])) and len(first[key]) == half
    assert torch.equal(whole["params"]["sigma_s"][half:], second["params"]["sigma_s"])
    assert not torch.equal(first["clean"], second["clean"])
    assert batch_parts("auto", 2, 8) == 2 and batch_parts(4, 2, 8) == 4
    with pytest.raises(InputError, match="train.batch_parts=3 must be a multiple of the 2 process"):
        batch_parts(3, 2, 6)


def test_a_model_files_untrained_start_is_the_start_its_run_trained_from(project):
    """models.checkpoint.start_model (the receptive field's untrained reference) and engine.train.fresh_start draw
    the same seeded weights: one function, seeded_model, makes both."""
    from models.checkpoint import start_model

    run = Run.of(small_params(), "d2d", LR)
    train_stage.train(run, Path("out"), Path("ck.pt"))
    start = train_stage.fresh_start(run.model, run.train, LR)[0].state_dict()
    again = start_model(Path("out/model.pt"), run.train.seed).state_dict()
    assert start.keys() == again.keys() and all(torch.equal(start[k], again[k]) for k in start)
    assert not all(torch.equal(start[k], v) for k, v in weights(Path("out/model.pt")).items())


def test_auto_loader_workers_serve_long_video_runs_on_cuda_only():
    """Auto: workers where they repaid their start on an H200 (a video batch, a run of 1000 steps or more), none on
    the CPU, whose cores the step uses; a number is taken as given."""
    from engine.batches import AUTO_MIN_STEPS, AUTO_WORKERS_CUDA, worker_count

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert worker_count("auto", cuda, 5, AUTO_MIN_STEPS) == AUTO_WORKERS_CUDA == 4
    assert worker_count("auto", cuda, 5, AUTO_MIN_STEPS - 1) == 0
    assert worker_count("auto", cuda, 1, 200000) == 0
    assert worker_count("auto", cpu, 5, 200000) == 0
    assert worker_count(3, cpu, 1, 3) == 3


def test_a_diverging_run_is_refused_not_saved(project):
    with pytest.raises(InputError, match="training dncnn diverged: its loss rose from"):
        train_stage.train(Run.of(small_params(steps=20), "dncnn", 1e3), Path("out"), Path("ck.pt"))
    assert not Path("out/model.pt").exists()


def test_a_changed_setting_does_not_resume_a_stale_checkpoint(project):
    train_stage.train(Run.of(small_params(), "kpn5_image", LR), Path("a"), Path("ck.pt"), stop_after=2)
    train_stage.train(Run.of(small_params(seed=1), "kpn5_image", LR), Path("b"), Path("ck.pt"))
    train_stage.train(Run.of(small_params(seed=1), "kpn5_image", LR), Path("c"), Path("ck_fresh.pt"))
    assert same(weights(Path("b/model.pt")), weights(Path("c/model.pt")))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(project):
    params = small_params({"d2d": {"objective": "test_nan_at_step_3"}})
    with pytest.raises(InputError, match=r"loss of d2d became nan at step 3; the last good checkpoint .*step 2"):
        train_stage.train(Run.of(params, "d2d", LR), Path("out"), Path("ck.pt"))
    state = torch.load("ck.pt")
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_ddp_two_gloo_processes_equal_one_process_with_the_whole_batch(tmp_path):
    """Each process draws its own part of the batch (train.batch_parts: auto is one per process); one process
    drawing the same two parts trains the same weights."""
    for name, parts in (("one", 2), ("two", "auto")):
        root = copy_project(tmp_path / name)
        training_data(root)
        # float32: in bf16 a convolution's rounding depends on the batch it is given, so half a batch per process
        # is not bit-close to the whole batch
        (root / "params.yaml").write_text(yaml.safe_dump(small_dict(steps=4, lr_grid=[LR], precision="fp32",
                                                                    batch_parts=parts)))
        save_shard(root / "data/scenes/val.npz", frames=np.random.default_rng(1).random((2, 5, 16, 16), np.float32))
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


def test_warm_up_then_cosine_decay_at_chosen_steps():
    lr = train_stage.learning_rate
    assert lr(0, 100, 1e-3) == pytest.approx(1e-4)  # warm-up over 10 steps: 1/10 of the peak at the first
    assert lr(9, 100, 1e-3) == pytest.approx(1e-3)
    assert lr(10, 100, 1e-3) == pytest.approx(1e-3)  # the peak, then cosine
    assert lr(55, 100, 1e-3) == pytest.approx(5e-4)  # half way through the decay: half the peak
    assert lr(99, 100, 1e-3) == pytest.approx(1e-3 * 0.5 * (1 + np.cos(np.pi * 89 / 90)))
    assert lr(0, 200000, 2e-4, 0.0, "linear") == pytest.approx(2e-4)  # the paper: 2e-4 -> 1e-4
    assert lr(100000, 200000, 2e-4, 0.0, "linear") == pytest.approx(1.5e-4)


def test_the_moving_average_spans_its_share_of_any_run():
    decay = train_stage.ema_decay
    assert decay(1 / 6, 300) == pytest.approx(0.98)  # 50 steps of 300
    assert decay(1 / 6, 200000) == pytest.approx(1 - 1 / 33333.33)
    for steps in (60, 300, 200000):  # the start's weight in the average is e^(-6) or less, short run or long
        assert decay(1 / 6, steps) ** steps < 1.05 * np.exp(-6)
    assert decay(1 / 6, 6) == 0.0 and decay(0, 300) == 0.0  # a span of a step or less: no average


def test_the_saved_model_is_the_moving_average_of_the_weights(project):
    """With train.ema, model.pt holds the exponential moving average of every step's weights, not the last."""
    seen = []
    real_step = torch.optim.Adam.step

    def step_and_record(self, *a, **kw):
        out = real_step(self, *a, **kw)
        seen.append([p.detach().clone() for p in self.param_groups[0]["params"]])
        return out

    torch.optim.Adam.step = step_and_record
    try:
        train_stage.train(Run.of(small_params(ema=0.5), "kpn5_image", LR), Path("m"), Path("ck.pt"))
    finally:
        torch.optim.Adam.step = real_step
    decay = train_stage.ema_decay(0.5, 6)
    average = seen[0]
    for ws in seen[1:]:
        average = [decay * a + (1 - decay) * w for a, w in zip(average, ws)]
    saved = list(weights(Path("m/model.pt")).values())
    assert len(saved) == len(average)
    assert all(torch.allclose(s, a, atol=1e-6) for s, a in zip(saved, average))
    assert not all(torch.allclose(s, w, atol=1e-6) for s, w in zip(saved, seen[-1]))


def test_the_thread_setting_respects_a_shared_machine(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert train_stage.thread_count(0) == 1
    assert train_stage.thread_count(3) == 3  # an explicit setting is the user's
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert train_stage.thread_count(0) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("name", ["kpn5_image", "d3d"])
def test_a_model_trained_a_few_dozen_steps_beats_its_input(tmp_path, monkeypatch, name):
    """The default recipe (warm-up, linear decay, the highest rate of the shared grid) on a tiny set of smooth
    frames: at the high test level, the trained model's output is closer to the clean frames than its input."""
    from core.registry import DEGRADATIONS
    from models.checkpoint import load_model

    monkeypatch.chdir(tmp_path)
    g = torch.Generator().manual_seed(0)
    frames = torch.nn.functional.interpolate(torch.rand(1, 12, 6, 8, generator=g), size=(36, 48), mode="bilinear")
    frames = (frames[0] * 0.8 + 0.1).numpy()
    save_shard("data/scenes/train/smooth.npz", frames=frames, starts=np.arange(8, dtype=np.int64))
    params = small_params(steps=60, batch=8, crop=24)
    train_stage.train(Run.of(params, name, params.train.lr_grid[1]), Path("m"), Path("ck.pt"))
    model = load_model("m/model.pt")
    d = DEGRADATIONS.build("raw_noise")
    clean = np.repeat(frames[None, 2:7], 8, 0)
    noisy = torch.from_numpy(d.test_set(clean, "high", 3))
    clean = torch.from_numpy(clean)
    x = noisy[:, 2 - model.frames // 2:3 + model.frames // 2]
    with torch.no_grad():
        out = model(x, d.condition(noisy[:, 2:3], d.level("high")))
    err_out = (out[:, 0] - clean[:, 2]).square().mean()
    err_in = (noisy[:, 2] - clean[:, 2]).square().mean()
    assert err_out < 0.7 * err_in


def validation_split(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    val = torch.nn.functional.interpolate(torch.rand(4, 5, 4, 4, generator=g), size=(24, 24), mode="bilinear")
    save_shard("data/scenes/val.npz", frames=(val * 0.8 + 0.1).numpy())


def test_training_keeps_the_best_rate_on_validation_and_skips_one_that_diverges(project):
    """Every rate of the shared grid trains to the rung; a rate that blows the model up scores -inf; the best on
    validation continues to the end of the budget and becomes the model, with its own curves."""
    import json

    from engine.select import train_and_select, validation_psnr

    validation_split(1)
    params = small_params(steps=12, lr_grid=[3e-3, 1e3], crop=16, rung=0.3)
    tuned = train_and_select("kpn5_image", params, Path("m"), Path("ck"))
    assert tuned["rung_step"] == 4
    assert tuned["validation_psnr"]["1000"] == float("-inf") and np.isfinite(tuned["validation_psnr"]["0.003"])
    assert json.loads(Path("m/tune.json").read_text())["lr"] == 3e-3
    kept = validation_psnr(Path("m/model.pt"), params.models["kpn5_image"], params.train)
    assert kept == pytest.approx(tuned["kept_validation_psnr"]) and kept > tuned["validation_psnr"]["0.003"]
    assert Path("m/live/metrics.json").is_file() and not Path("m/rates").exists() and not list(Path("ck").glob("*"))
    assert len(pd.read_csv("m/live/plots/metrics/train/loss.tsv", sep="\t")) == 12  # the rung's steps and the rest
    assert 0 < tuned["kept_cpu_seconds"] <= tuned["tuning_cpu_seconds"]


def test_the_rungs_winner_continued_is_the_run_trained_straight_through(project):
    """The rung's checkpoint and the continuation from it lose nothing: the kept model is byte for byte the run
    of the winning rate trained without a stop; with train.rung 1 every rate trains the whole budget and the
    scores are those full runs' own."""
    from engine.select import train_and_select

    validation_split(3)
    params = small_params(steps=10, lr_grid=[1e-4, 3e-3], rung=0.4)
    tuned = train_and_select("kpn5_image", params, Path("m"), Path("ck"))
    train_stage.train(Run.of(params, "kpn5_image", tuned["lr"]), Path("straight"), Path("ck.pt"))
    assert Path("m/model.pt").read_bytes() == Path("straight/model.pt").read_bytes()
    full = train_and_select("kpn5_image", small_params(steps=10, lr_grid=[1e-4, 3e-3], rung=1), Path("f"), Path("ck"))
    assert full["rung_step"] is None and full["kept_validation_psnr"] == full["validation_psnr"][f"{full['lr']:g}"]
    assert full["validation_psnr"][f"{tuned['lr']:g}"] == pytest.approx(tuned["kept_validation_psnr"])


def test_rates_side_by_side_give_the_models_of_rates_one_after_another(project):
    """train.rate_workers 2 trains the grid's rates in two processes of one thread each (the default run's way of
    using both cores); the scores and the kept model are byte for byte those of one rate after another."""
    from engine.select import train_and_select

    validation_split(2)
    tuned = {}
    for workers in (1, 2):
        params = small_params(steps=8, lr_grid=[1e-4, 3e-3], rate_workers=workers)
        tuned[workers] = train_and_select("kpn5_image", params, Path(f"m{workers}"), Path(f"ck{workers}"))
    scores = [{k: v for k, v in t.items() if not k.endswith("cpu_seconds")} for t in tuned.values()]
    assert scores[0] == scores[1] and tuned[1]["rung_step"] == 2
    assert Path("m1/model.pt").read_bytes() == Path("m2/model.pt").read_bytes()


def test_batch_norm_statistics_are_measured_anew_at_the_final_weights(tmp_path, monkeypatch):
    """After the last step, each batch-norm layer's statistics are the equal-weight mean over train.bn_batches
    fresh training batches of what it sees at the final weights; a model without batch norm is left alone."""
    from core.registry import DEGRADATIONS
    from core.training_data import TrainingSequences
    from models.checkpoint import build_model, model_spec
    from objectives import objective_for

    monkeypatch.chdir(tmp_path)
    frames = torch.rand(12, 24, 24, generator=torch.Generator().manual_seed(0)).numpy() * 0.8 + 0.1
    save_shard("train/a.npz", frames=frames, starts=np.arange(8, dtype=np.int64))
    params = small_params({"dncnn": {"args": {"frames": 1, "blind": False, "width": 4}}}, bn_batches=5,
                          precision="fp32")  # (the hook's means in float32, as the statistics are kept)
    cfg, d = params.train, DEGRADATIONS.build("raw_noise")
    data = TrainingSequences(Path("train"), 5, cfg.crop)
    torch.manual_seed(0)
    model = build_model(model_spec("dncnn", params.models["dncnn"], cfg))
    objective = objective_for(params.models["dncnn"], cfg, d)
    norm = model.net[3]
    norm.running_mean.fill_(7.0)  # stale statistics, far from anything the batches give
    seen = []
    norm.register_forward_hook(lambda m, inp, out: seen.append(inp[0].mean((0, 2, 3)).clone()))
    used = train_stage.settle_batch_norm(model, objective, data, cfg, 1, d, 6, torch.device("cpu"))
    assert used == 5 and len(seen) == 5 and norm.momentum == 0.1
    assert torch.allclose(norm.running_mean, torch.stack(seen).mean(0), atol=1e-6)
    kpn = build_model(model_spec("kpn5_image", params.models["kpn5_image"], cfg))
    before = {k: v.clone() for k, v in kpn.state_dict().items()}
    assert train_stage.settle_batch_norm(kpn, objective, data, cfg, 1, d, 6, torch.device("cpu")) == 0
    assert all(torch.equal(before[k], v) for k, v in kpn.state_dict().items())


def test_a_tie_between_rates_goes_to_the_lowest():
    """Rates within train.lr_tie_db of the best validation PSNR tie and the lowest of them is kept; a rate
    clearly better wins; a diverged rate (-inf) never ties."""
    from engine.select import chosen_rate

    assert chosen_rate({1e-3: 31.40, 3e-3: 31.45}, 0.1) == 1e-3
    assert chosen_rate({1e-3: 31.40, 3e-3: 31.45}, 0.0) == 3e-3
    assert chosen_rate({1e-3: 30.62, 3e-3: 31.45, 1e-2: 31.50}, 0.1) == 3e-3
    assert chosen_rate({1e-3: float("-inf"), 3e-3: 27.0}, 0.1) == 3e-3


class FitsFourCrops(Supervised):
    """Supervised, but a loss over more than 4 crops raises the error a full CUDA card raises."""

    def loss(self, net, batch, step, steps):
        if len(batch["clean"]) > 4:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().loss(net, batch, step, steps)


def test_a_step_that_does_not_fit_is_taken_in_slices_with_the_same_gradients():
    """A step in slices gives the whole batch's mean loss and gradients (float tolerance); on an out-of-memory
    error the step is retried in the next number of slices dividing the batch (1, 2, 3 of 12 crops: 3 fit) and
    keeps it; a step that fits no slicing is a clear error."""
    from core.registry import DEGRADATIONS
    from models.checkpoint import build_model, model_spec

    params = small_params({"kpn5_image": {"args": {"frames": 1, "blind": False}}}, precision="fp32")
    cfg, d = params.train, DEGRADATIONS.build("raw_noise")
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(12, 1, 16, 16, generator=g)
    batch = {"clean": clean, **d.training_pair(clean, g), "generator": g}

    def start():
        torch.manual_seed(0)
        model = build_model(model_spec("kpn5_image", params.models["kpn5_image"], cfg))
        return model, torch.optim.SGD(model.parameters(), lr=0.1)

    whole, whole_opt = start()
    loss, slices = train_stage.fitting_step(whole, whole_opt, Supervised(cfg, d), batch, 0, 10, 1)
    assert slices == 1
    sliced, sliced_opt = start()
    loss3, slices3 = train_stage.fitting_step(sliced, sliced_opt, FitsFourCrops(cfg, d), batch, 0, 10, 1)
    assert slices3 == 3 and torch.allclose(loss3, loss, rtol=1e-5)
    for a, b in zip(whole.parameters(), sliced.parameters()):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    one_crop = {k: v[:1] if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    never = FitsFourCrops(cfg, d)
    never.loss = lambda *a: (_ for _ in ()).throw(torch.OutOfMemoryError("CUDA out of memory (simulated)"))
    with pytest.raises(InputError, match="does not fit the device's memory.*lower train.crop"):
        train_stage.fitting_step(sliced, sliced_opt, never, one_crop, 1, 10, 1)
