"""Stage `train@<model>`: train one registered model from the `models` dict of params.

Adam with the learning rate decaying linearly between train.lr[0] and train.lr[1] (the paper: 2e-4 to 1e-4),
L1 on sRGB outputs plus, for video kernels, the annealing term. Writes data/models/<model>/model.pt and dvclive
curves; a checkpoint in data/checkpoints/ every train.checkpoint_every steps lets an interrupted run resume to the
same weights. Several GPUs or nodes: `torchrun --nproc_per_node N -m pipeline.train <model>` (rank 0 writes).

No training stage reads noise.level: noise is drawn on the fly from the training ranges.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

import models
from models.losses import annealed_loss, annealing_weight
from pipeline.config import InputError, load_params, stage_main
from pipeline.training_data import TrainingSequences, reference, seed_everything

CHECKPOINTS = Path("data/checkpoints")


def model_spec(params: dict, name: str) -> dict:
    """arch, constructor arguments and the training switches of one entry of `models`."""
    if name not in params["models"]:
        raise InputError(f"model {name!r} is not in params.yaml `models`; known: {', '.join(params['models'])}")
    entry = params["models"][name]
    args = {"width": params["train"]["width"], **entry.get("args", {})}
    if entry["arch"].startswith("deformable"):
        args.setdefault("weight_width", params["train"]["weight_width"])
    return {"arch": entry["arch"], "args": args, "anneal": bool(entry.get("anneal", False))}


def build_model(spec: dict) -> torch.nn.Module:
    try:
        return models.build(spec["arch"], **spec["args"])
    except KeyError as e:
        raise InputError(f"{e.args[0]}; fix `arch` in params.yaml") from None


def run_hash(spec: dict, train_cfg: dict) -> str:
    """What a checkpoint must match to be resumed: the model and every training setting."""
    return hashlib.sha256(json.dumps([spec, train_cfg], sort_keys=True).encode()).hexdigest()[:16]


def learning_rate(step: int, steps: int, lr: list[float]) -> float:
    return lr[0] + (lr[1] - lr[0]) * step / max(steps, 1)


class Distributed:
    """Rank and world size from torchrun's environment; a plain run is rank 0 of 1."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        if self.world > 1:
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def wrap(self, model):
        if self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def my_slice(self, batch_size: int) -> slice:
        if batch_size % self.world:
            raise InputError(f"train.batch={batch_size} does not split over {self.world} processes; "
                             "make it a multiple of the process count")
        per = batch_size // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(name: str, params: dict, out_dir: Path, checkpoint: Path, stop_after: int | None = None) -> dict:
    """Train model `name`; returns the final summary. stop_after=k stops after k steps (to test resuming)."""
    cfg, spec = params["train"], model_spec(params, name)
    torch.set_num_threads(cfg.get("threads") or os.cpu_count() or 1)
    seed_everything(cfg["seed"])
    dist_ = Distributed()
    model = build_model(spec).to(dist_.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg["lr"][0])
    data = TrainingSequences("data/scenes/train", 2 * params["data"]["tau"] + 1)
    key, start, history = run_hash(spec, cfg), 0, []
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=dist_.device)
        if state["hash"] == key:
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["optimiser"])
            start, history = state["step"], state["history"]
    net = dist_.wrap(model)
    mine = dist_.my_slice(cfg["batch"])
    steps, main_rank = cfg["steps"], dist_.rank == 0
    live = None
    if main_rank:
        from dvclive import Live

        live = Live(str(out_dir / "live"), dvcyaml=False, save_dvc_exp=False)
        for s, loss in history:  # a resumed run replays the curve it already has
            live.step = s
            live.log_metric("train/loss", loss)
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"train {name}", disable=not main_rank)
    began = time.perf_counter()
    model.train()
    for step in bar:
        if stop_after is not None and step >= stop_after:
            break
        batch = data.batch(cfg["seed"], step, cfg["batch"], cfg["crop"], model.frames)
        noisy, clean = batch["noisy"][mine].to(dist_.device), batch["clean"][mine].to(dist_.device)
        nmap = None if model.blind else batch["noise_map"][mine].to(dist_.device)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, steps, cfg["lr"])
        out, aux = net(noisy, nmap, return_aux=True)
        weight = annealing_weight(step, steps, **cfg["annealing"]) if spec["anneal"] else 0.0
        loss = annealed_loss(out, aux, reference(clean), weight, cfg["loss"], cfg["gamma"])
        value = loss.item()  # one host sync a step
        if not math.isfinite(value):
            saved = _checkpoint_step(checkpoint)
            raise InputError(f"the loss of {name} became {value} at step {step}; the last good checkpoint "
                             f"{checkpoint} ({'none yet' if saved is None else f'step {saved}'}) is kept; "
                             "lower train.lr and rerun")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if main_rank:
            history.append((step, value))
            live.step = step
            live.log_metric("train/loss", value)
            bar.set_postfix(loss=f"{value:.4f}")
            done = step + 1
            if done % cfg["checkpoint_every"] == 0 or done == steps:
                save_checkpoint(checkpoint, {"hash": key, "step": done, "model": model.state_dict(),
                                             "optimiser": optimiser.state_dict(), "history": history})
    finished = stop_after is None or stop_after >= steps
    summary = {}
    if main_rank and finished:
        tail = [loss for _, loss in history[-max(1, steps // 10):]]
        summary = {"final_loss": sum(tail) / len(tail), "steps": steps, "parameters": model.parameter_count(),
                   "seconds": round(time.perf_counter() - began, 1)}
        live.summary = summary
        live.end()
        save_checkpoint(out_dir / "model.pt", {"spec": spec, "model": model.state_dict(), "summary": summary})
    dist_.close()
    return summary


def _checkpoint_step(path: Path) -> int | None:
    return torch.load(path, map_location="cpu")["step"] if path.is_file() else None


def load_trained(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """A trained model from its model.pt, in eval mode, and the summary of its training run."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} is missing; run `dvc repro` to train it")
    state = torch.load(path, map_location=device)
    model = build_model(state["spec"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), state["summary"]


@stage_main
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise InputError("usage: python -m pipeline.train <model name from params.yaml `models`>")
    name = argv[0]
    train(name, load_params(), Path("data/models") / name, CHECKPOINTS / f"{name}.pt")


if __name__ == "__main__":
    main()
