"""Every registered degradation and objective, through the interface the stages use: shapes, seeding (same seed,
same bytes) and a training step that lowers the loss. A new degradation or objective is covered by registering."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import baselines  # noqa: F401  (each package import registers its members)
import degradations  # noqa: F401
import studies  # noqa: F401
import objectives  # noqa: F401
from core.registry import BASELINES, DEGRADATIONS, MODELS, OBJECTIVES, STUDIES, Registry
from core.spec import replace
from core.training_data import TrainingSequences
from core.frames import save_shard
from models import build
from pipeline.check import learns_from_noise
from tests.conftest import default_spec

TRAIN = replace(default_spec().train, annealing=replace(default_spec().train.annealing, normalised=False))


def smooth_clip(frames: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.random((4, 6), dtype=np.float32) * 0.8 + 0.1
    return np.stack([np.kron(np.roll(base, k, axis=1), np.ones((6, 6), np.float32)) for k in range(frames)])


def training_sequences(folder, length: int) -> TrainingSequences:
    save_shard(folder / "clip.npz", frames=smooth_clip(length + 7), starts=np.arange(0, 8, dtype=np.int64))
    return TrainingSequences(folder, length)


def window(d) -> tuple[int, int]:
    """(clean frames a training pair reads, frames of the degraded input): 5 and 5 for noise on a frame stack;
    a degradation with a window (blur) reads that many sharp frames and makes one frame of them."""
    return (d.window, 1) if d.window else (5, 5)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_degradation_shapes_and_seeding(name, tmp_path):
    d = DEGRADATIONS.build(name)
    length, frames = window(d)
    sequences = training_sequences(tmp_path, length)
    batch = [sequences.batch(0, 7, 3, 16, length, d) for _ in range(2)]
    for key in ("clean", "input", "condition"):  # same seed, same bytes (a blind degradation has no condition)
        assert batch[0][key] is None is batch[1][key] or \
            batch[0][key].numpy().tobytes() == batch[1][key].numpy().tobytes()
    assert batch[0]["clean"].shape == (3, length, 16, 16) and batch[0]["input"].shape == (3, frames, 16, 16)
    assert batch[0]["condition"] is None or batch[0]["condition"].shape == (3, 1, 16, 16)
    middle = batch[0]["clean"][:, (length - frames) // 2:(length + frames) // 2]  # what the input degrades
    if not d.draws:  # frames that are already degraded (observed): nothing is added, nothing is drawn
        assert torch.equal(batch[0]["input"], middle)
        return
    assert not torch.equal(batch[0]["input"], middle)
    other = sequences.batch(0, 8, 3, 16, length, d)
    assert not torch.equal(other["input"], batch[0]["input"])  # another step, other draws
    clean = smooth_clip(length)[None]
    for level in d.levels:
        a, b = d.test_set(clean, level, 11), d.test_set(clean, level, 11)
        assert a.tobytes() == b.tobytes() and a.shape == (1, frames, *clean.shape[2:])
        if getattr(d, "noise", None) != 0.0:  # blur without read noise draws nothing at a test level
            assert a.tobytes() != d.test_set(clean, level, 12).tobytes()
        stored = {k: np.float32(v) for k, v in d.level(level).items()}
        assert d.stored_level(stored) == pytest.approx(d.level(level))


@pytest.mark.parametrize("degradation,name", [
    (d, o) for d in sorted(d for d in DEGRADATIONS if DEGRADATIONS.get(d).draws)
    for o in sorted(o for o in OBJECTIVES if not o.startswith("test_"))
    if not (learns_from_noise(OBJECTIVES.get(o)) and DEGRADATIONS.get(d).window)])  # the check stage refuses these
def test_a_few_steps_of_each_objective_lower_its_loss(name, degradation, tmp_path):
    torch.manual_seed(0)
    d = DEGRADATIONS.build(degradation)
    length, frames = window(d)
    sequences = training_sequences(tmp_path, length)
    objective = OBJECTIVES.build(name, train=TRAIN, degradation=d)
    if objective.arch:  # the one network the objective trains
        model = build(objective.arch, frames=1, width=4)
    elif objective.single_image or frames == 1:
        model = build("unet", frames=1, blind=True, width=4, base="neighbours")
    else:
        model = build("deformable_3d", frames=5, width=4, weight_width=8)
    objective.check(model)
    net = model
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = sequences.batch(0, 0, 4, 16, length if d.window else model.frames, d)  # one fixed batch
    losses = []
    for step in range(40):
        batch["generator"].manual_seed(step)  # the objective's own draws (masks, second copies) change per step
        loss = objective.loss(net, batch | objective.draw(batch), step, 40)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert min(losses[-5:]) < losses[0] - 0.1 * abs(losses[0])  # a likelihood loss can be negative


def test_every_registry_refuses_a_duplicate_and_names_the_known_ones():
    for registry in (MODELS, BASELINES, DEGRADATIONS, OBJECTIVES, STUDIES):
        first = next(iter(registry))
        with pytest.raises(ValueError, match="registered twice"):
            registry.register(first)(object)
        with pytest.raises(KeyError, match=first):
            registry.get("no such thing")
    r = Registry("thing")

    @r.register("a")
    class A:
        def __init__(self, x):
            self.x = x

    assert "a" in r and list(r) == ["a"] and r.build("a", x=1).x == 1 and A.registered_name == "a"
